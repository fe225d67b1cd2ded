package export

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// testdata/demo.db was recorded with
//
//	warroom demo --headless --speed 40 --auto-ack --seed 1 --as ollie --journal demo.db
//
// (then VACUUMed by sqlite3): a whole simulated launch: rule and imported
// alerts, acks, five mitigations with approvals, samples, a Slack mirror
// and the simulated comms: the impact and mitigated marks, SEV2, four
// public updates approved by the commander (investigating, identified,
// monitoring, resolved) delivered to a local Statuspage, the components
// and a note marked as a follow-up. Its exports are compared byte for
// byte.
func TestGoldenDemoJournal(t *testing.T) {
	// Export a copy: a read-only open of a WAL journal may add -shm files.
	src, err := os.ReadFile(filepath.Join("testdata", "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    Format
		opt  Options
	}{
		{"demo/postmortem.md", Markdown, Options{}},
		{"demo/timeline.csv", CSV, Options{}},
		{"demo/tokens.csv", CSV, Options{Filter: Filter{Service: "tokens"}}},
	} {
		var buf bytes.Buffer
		if _, err := Export(context.Background(), path, c.f, "", &buf, c.opt); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		golden(t, c.name, buf.Bytes())
	}
	// The recorded launch shows the whole story in the postmortem.
	var md bytes.Buffer
	if _, err := Export(context.Background(), path, Markdown, "", &md, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Simulated run", "waf-mode", "db-terminate-idle-sessions", "lambda-reserved-concurrency", "rpc-traffic-split", "priority-fee", "succeeded",
		// The incident-level parts.
		"**Severity:** SEV2 Major", "**Status:** resolved", "**Incident times:** TTD 0s · TTA 40s · TTM 6m13s · TTR 9m51s",
		"## Key events", "rosa set the severity to SEV2 Major", "lin marked mitigated at 11:20:43 UTC",
		// What customers saw: the four updates as published.
		"## What customers saw", "**Time to the first public update:** 40s after the customer-impact start",
		"**Longest silence:** 3m28s", "**Updates published:** 4",
		"— Investigating** · Slow claims · U21 by sam, approved by rosa", "— Resolved** · Slow claims · U297",
		"> Your tokens are safe, and your place is kept: you do not need to claim again.",
		"Statuspage: delivered at 11:15:10 UTC",
		// The escalation policy names the services without a backup.
		"Banners (banners), Cloudflare Security (cloudflare), Triton (triton) and Blowfish (blowfish) had no backup",
		// The follow-up is an action item.
		"| set the Lambda reserved concurrency from the forecast (90K req/s) before the next drop, not during it | Lin Park (lin) |  | #266 |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the demo postmortem does not mention %q", want)
		}
	}
	// The defects of the old export are gone: no HTML entities or tags in
	// Markdown, no 17-digit floats, no "1 slots".
	for _, bad := range []string{"&gt;", "&lt;", "&amp;", "<br>", "0000000", "9999999"} {
		if strings.Contains(md.String(), bad) {
			t.Errorf("the demo postmortem contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`(^|[^0-9.])1 (slots|blocks|conns)\b`).FindString(md.String()); m != "" {
		t.Errorf("the demo postmortem says %q", m)
	}
	// The JSON carries the same incident-level figures.
	var js bytes.Buffer
	if _, err := Export(context.Background(), path, JSON, "", &js, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Incident struct {
			Lifecycle struct {
				Severity string `json:"severity"`
				Status   string `json:"status"`
				Times    struct {
					TTA float64 `json:"time_to_acknowledge_seconds"`
					TTM float64 `json:"time_to_mitigate_seconds"`
				} `json:"times"`
				Updates []struct {
					ID         string `json:"id"`
					Status     string `json:"status"`
					Key        string `json:"key"`
					Deliveries []struct {
						Dest  string `json:"dest"`
						State string `json:"state"`
					} `json:"deliveries"`
				} `json:"public_updates"`
			} `json:"lifecycle"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	l := doc.Incident.Lifecycle
	var ups []string
	for _, u := range l.Updates {
		ups = append(ups, u.Status)
		if len(u.Deliveries) != 1 || u.Deliveries[0].Dest != "statuspage" || u.Deliveries[0].State != "delivered" || !strings.HasSuffix(u.Key, "-"+u.ID) {
			t.Errorf("update %s: key %q, deliveries %+v", u.ID, u.Key, u.Deliveries)
		}
	}
	if l.Severity != "SEV2" || l.Status != "resolved" || l.Times.TTM != 373 || int(l.Times.TTA) != 40 ||
		strings.Join(ups, " ") != "investigating identified monitoring resolved" {
		t.Errorf("JSON lifecycle: %+v", l)
	}
	// Every pane that alerted has a chart, beside each service's main one.
	files := exportAll(t, path, t.TempDir(), Options{})
	for _, want := range []string{"postmortem-tokens-throttles.svg", "postmortem-tokens-db_conns.svg", "postmortem-aws-nat_ports.svg",
		"postmortem-triton-latency.svg", "postmortem-triton-throttled.svg", "postmortem-history-errors_5xx.svg", "postmortem-quicknode-latency.svg"} {
		if files[want] == nil {
			var names []string
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			t.Errorf("no chart %s among %v", want, names)
		}
	}
}
