package comms

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/outbox"
)

// ProbeResult is one check of `warroom check --live` on Statuspage.
type ProbeResult struct {
	Name   string // "page", or a component's id
	OK     bool
	Detail string
}

// Probe checks the file's Statuspage section without writing anything:
// the API key reads the page's components (GET
// /pages/{page_id}/components), and every component of the file names
// one of them. A wrong key, page or component id would otherwise first
// show when the first update is published. Without a statuspage section
// it reports that the room publishes to its own status page only.
func Probe(ctx context.Context, cfg *config.Config, hc *http.Client) []ProbeResult {
	if !Enabled(cfg) {
		return []ProbeResult{{Name: "page", OK: true, Detail: "not configured: public updates go to the built-in status page (serve --status) and Slack only"}}
	}
	sp := cfg.Comms.Statuspage
	key := sp.APIKey.Value()
	if key == "" {
		return []ProbeResult{{Name: "page", Detail: "comms.statuspage.api_key: environment variable " + sp.APIKey.Env + " is not set"}}
	}
	if hc == nil {
		hc = outbox.NewHTTPClient(0)
	}
	s := newStatuspage(sp, key, hc, clock.Real{})
	type component struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	var comps []component
	start := time.Now()
	// The list is paginated, 100 at most a page.
	for page := 1; page <= 20; page++ {
		var got []component
		if err := s.call(ctx, http.MethodGet, fmt.Sprintf("/components?per_page=100&page=%d", page), nil, &got); err != nil {
			detail := strings.ReplaceAll(err.Error(), key, "[redacted]")
			if err.Code == "HTTP 404" {
				detail = "Statuspage has no page " + sp.PageID + " (check comms.statuspage.page_id)"
			}
			return []ProbeResult{{Name: "page", Detail: detail}}
		}
		comps = append(comps, got...)
		if len(got) < 100 {
			break
		}
	}
	byID := map[string]string{}
	for _, c := range comps {
		byID[c.ID] = c.Name + " (" + c.Status + ")"
	}
	out := []ProbeResult{{Name: "page", OK: true, Detail: fmt.Sprintf("page %s answers in %s with %d components", sp.PageID, time.Since(start).Round(time.Millisecond), len(comps))}}
	for _, c := range cfg.Comms.Components {
		if got, ok := byID[c.StatuspageID]; ok {
			out = append(out, ProbeResult{Name: c.ID, OK: true, Detail: "Statuspage component " + c.StatuspageID + ": " + got})
			continue
		}
		var ids []string
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		out = append(out, ProbeResult{Name: c.ID, Detail: "Statuspage page " + sp.PageID + " has no component " + c.StatuspageID +
			" (check comms.components' statuspage_id; the page has " + orText(strings.Join(ids, ", "), "none") + ")"})
	}
	return out
}
