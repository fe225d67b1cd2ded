package datadog

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
)

// fakeDD is a local Datadog API that follows the shapes in
// research/integrations.md §1 and the answers recorded in
// datadog-api-client-go's cassettes: key headers (403
// {"errors":["Forbidden"]}), x-ratelimit-{limit,period,remaining,reset}
// on every answer (lower-case, as recorded, with no x-ratelimit-name
// unless sendName) with calendar-aligned periods and Reset counting down
// in seconds, 429 past the limit, 400 {"errors":[…]} for a bad query,
// timeseries as application/vnd.api+json with data.id "0", null points and
// unit null, and unknown monitor states.
type fakeDD struct {
	mu     sync.Mutex
	clk    clock.Clock
	apiKey string
	appKey string
	limit  int
	period time.Duration
	used   map[string]int       // bucket → requests this period
	start  map[string]time.Time // bucket → period start
	// exhaustedUntil: every request of a bucket gets 429 before it (another
	// tool spent the org's budget).
	exhaustedUntil time.Time
	// series answers a metric query: per group, a value per point index
	// (nil: null). n is the number of points.
	series func(query string, n int) map[string][]*float64
	groups []map[string]any
	// monitorQueries are the query parameters of the group searches.
	monitorQueries []string
	mode           string // "400", "500": fail the timeseries endpoint
	// sendName adds x-ratelimit-name, which the recorded answers lack.
	sendName bool

	bodies   []tsBody
	requests []ddReq
	resets   map[string]time.Time // bucket → the reset announced with its last 429
	told     map[string]time.Time // bucket → when that 429 was answered
	pending  map[string]bool
	late     []time.Duration
	early    []string
	n429     int
}

type ddReq struct {
	at     time.Time
	path   string
	status int
}

type tsBody struct {
	Data struct {
		Type       string `json:"type"`
		Attributes struct {
			From     int64 `json:"from"`
			To       int64 `json:"to"`
			Interval int64 `json:"interval"`
			Queries  []struct {
				DataSource string `json:"data_source"`
				Name       string `json:"name"`
				Query      string `json:"query"`
			} `json:"queries"`
			Formulas []struct {
				Formula string `json:"formula"`
			} `json:"formulas"`
		} `json:"attributes"`
	} `json:"data"`
}

func newFakeDD(clk clock.Clock) *fakeDD {
	return &fakeDD{clk: clk, apiKey: "0123456789abcdef0123456789abcdef", appKey: "0123456789abcdef0123456789abcdef01234567",
		limit: 1000, period: time.Hour, used: map[string]int{}, start: map[string]time.Time{},
		resets: map[string]time.Time{}, told: map[string]time.Time{}, pending: map[string]bool{},
		series: func(string, int) map[string][]*float64 { return nil }}
}

func ddJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func ddErr(w http.ResponseWriter, code int, msg string) {
	ddJSON(w, code, map[string]any{"errors": []string{msg}})
}

func (f *fakeDD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := f.clk.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := ddReq{at: now, path: r.URL.Path, status: 200}
	defer func() { f.requests = append(f.requests, rec) }()
	if r.Header.Get("DD-API-KEY") != f.apiKey || r.Header.Get("DD-APPLICATION-KEY") != f.appKey {
		rec.status = 403
		ddErr(w, http.StatusForbidden, "Forbidden")
		return
	}
	bucket := "query_timeseries"
	if strings.HasPrefix(r.URL.Path, "/api/v1/monitor") {
		bucket = "monitor_groups_search"
	}
	// Rate limit, calendar aligned, per bucket. A request at the very
	// instant of the 429 (the fake clock has not moved) was sent before
	// the client could know of it.
	if now.Before(f.resets[bucket]) && now.After(f.told[bucket]) {
		f.early = append(f.early, fmt.Sprintf("%s request at %s before the announced reset %s", bucket, now.Format(time.TimeOnly), f.resets[bucket].Format(time.TimeOnly)))
	} else if f.pending[bucket] && !now.Before(f.resets[bucket]) {
		f.late = append(f.late, now.Sub(f.resets[bucket]))
		f.pending[bucket] = false
	}
	ps := now.Truncate(f.period)
	if !ps.Equal(f.start[bucket]) {
		f.start[bucket], f.used[bucket] = ps, 0
	}
	f.used[bucket]++
	reset := int(math.Ceil(ps.Add(f.period).Sub(now).Seconds()))
	h := w.Header()
	h["x-ratelimit-limit"] = []string{strconv.Itoa(f.limit)}
	h["x-ratelimit-period"] = []string{strconv.Itoa(int(f.period.Seconds()))}
	h["x-ratelimit-remaining"] = []string{strconv.Itoa(max(0, f.limit-f.used[bucket]))}
	h["x-ratelimit-reset"] = []string{strconv.Itoa(reset)}
	if f.sendName {
		h["x-ratelimit-name"] = []string{bucket}
	}
	if f.used[bucket] > f.limit || now.Before(f.exhaustedUntil) {
		f.n429++
		rec.status = 429
		h["x-ratelimit-remaining"] = []string{"0"}
		f.resets[bucket], f.told[bucket], f.pending[bucket] = now.Add(time.Duration(reset)*time.Second), now, true
		ddErr(w, http.StatusTooManyRequests, fmt.Sprintf("Rate limit of %d requests in %d seconds reached. Please try again later.", f.limit, int(f.period.Seconds())))
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/query/timeseries":
		f.timeseries(w, r, &rec)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/monitor/groups/search":
		f.monitorGroups(w, r)
	default:
		rec.status = 404
		ddErr(w, http.StatusNotFound, "Not found")
	}
}

func (f *fakeDD) timeseries(w http.ResponseWriter, r *http.Request, rec *ddReq) {
	var body tsBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		rec.status = 400
		ddErr(w, 400, "Invalid JSON: "+err.Error())
		return
	}
	f.bodies = append(f.bodies, body)
	a := body.Data.Attributes
	switch {
	case f.mode == "400":
		rec.status = 400
		ddErr(w, 400, "Error parsing query: unable to parse avg:nope{: Rule 'scope' didn't match")
		return
	case f.mode == "500":
		rec.status = 500
		ddErr(w, 500, "Internal Server Error")
		return
	case body.Data.Type != "timeseries_request" || a.From < 1e12 || a.To <= a.From || len(a.Queries) == 0:
		rec.status = 400
		ddErr(w, 400, "invalid request: from/to must be in milliseconds")
		return
	}
	step := max(a.Interval, 1000)
	n := int(min((a.To-a.From)/step, 300))
	var times []int64
	for i := range n {
		times = append(times, a.From+int64(i+1)*step)
	}
	byName := map[string]map[string][]*float64{}
	for _, q := range a.Queries {
		if q.DataSource != "metrics" || q.Name == "" {
			rec.status = 400
			ddErr(w, 400, "each query needs data_source metrics and a name")
			return
		}
		byName[q.Name] = f.series(q.Query, n)
	}
	series := []any{}
	values := [][]*float64{}
	for i, fm := range a.Formulas {
		for group, vals := range evalFormula(fm.Formula, byName, n) {
			tags := []string{}
			if group != "" {
				tags = strings.Split(group, ",")
			}
			series = append(series, map[string]any{"group_tags": tags, "query_index": i, "unit": nil})
			values = append(values, vals)
		}
	}
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(200)
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": "0", "type": "timeseries_response", "attributes": map[string]any{
		"series": series, "times": times, "values": values}}})
}

// evalFormula evaluates "name", "100 * a / b" and the like left to right,
// per group (formulas over several queries use the first query's groups).
func evalFormula(formula string, byName map[string]map[string][]*float64, n int) map[string][]*float64 {
	toks := strings.Fields(formula)
	var groups []string
	for _, t := range toks {
		if m, ok := byName[t]; ok {
			for g := range m {
				groups = append(groups, g)
			}
			break
		}
	}
	out := map[string][]*float64{}
	for _, g := range groups {
		vals := make([]*float64, n)
		for k := range n {
			acc, have, null, op := 0.0, false, false, ""
			for _, t := range toks {
				var v *float64
				switch {
				case t == "*" || t == "/" || t == "+" || t == "-":
					op = t
					continue
				case byName[t] != nil:
					series := byName[t][g]
					if series == nil {
						for _, s := range byName[t] {
							series = s
							break
						}
					}
					if k < len(series) {
						v = series[k]
					}
					if v == nil {
						null = true
						continue
					}
				default:
					x, err := strconv.ParseFloat(t, 64)
					if err != nil {
						continue
					}
					v = &x
				}
				switch {
				case !have:
					acc, have = *v, true
				case op == "*":
					acc *= *v
				case op == "/":
					acc /= *v
				case op == "+":
					acc += *v
				case op == "-":
					acc -= *v
				}
			}
			if have && !null {
				x := acc
				vals[k] = &x
			}
		}
		out[g] = vals
	}
	return out
}

// monitorGroups answers the group search: the query's tag: and
// group_status: terms filter on the monitor's tags (all_tags) and the
// group's state (a term it does not know is a 400, as the recorded
// "Query parsing error" is); counts has status, muted, tag and type, as
// recorded (see testdata/README.md).
func (f *fakeDD) monitorGroups(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	query := r.URL.Query().Get("query")
	f.monitorQueries = append(f.monitorQueries, query)
	var groups []map[string]any
	for _, g := range f.groups {
		ok, err := matchMonitorQuery(g, query)
		if err != nil {
			ddErr(w, http.StatusBadRequest, "Query parsing error: "+err.Error())
			return
		}
		if ok {
			groups = append(groups, g)
		}
	}
	total := len(groups)
	pages := (total + per - 1) / per
	lo, hi := min(page*per, total), min((page+1)*per, total)
	counts := map[string]map[string]int{"status": {}, "muted": {}, "tag": {}}
	for _, g := range groups {
		counts["status"][fmt.Sprint(g["status"])]++
		counts["muted"][fmt.Sprint(g["muted"] == true)]++
		tags, _ := g["all_tags"].([]any)
		for _, t := range tags {
			counts["tag"][fmt.Sprint(t)]++
		}
	}
	list := func(m map[string]int) []any {
		out := []any{}
		for name, n := range m {
			var v any = name
			if name == "true" || name == "false" {
				v = name == "true"
			}
			out = append(out, map[string]any{"count": n, "name": v})
		}
		return out
	}
	out := groups[lo:hi]
	if out == nil {
		out = []map[string]any{}
	}
	ddJSON(w, 200, map[string]any{"groups": out,
		"counts":   map[string]any{"status": list(counts["status"]), "muted": list(counts["muted"]), "tag": list(counts["tag"]), "type": []any{map[string]any{"count": total, "name": "metric"}}},
		"metadata": map[string]any{"page": page, "page_count": pages, "per_page": per, "total_count": total}})
}

func matchMonitorQuery(g map[string]any, q string) (bool, error) {
	for _, term := range strings.Fields(q) {
		k, v, ok := strings.Cut(term, ":")
		v = strings.Trim(v, `"`)
		switch {
		case ok && k == "tag":
			tags, _ := g["all_tags"].([]any)
			hit := false
			for _, t := range tags {
				hit = hit || fmt.Sprint(t) == v
			}
			if !hit {
				return false, nil
			}
		case ok && k == "group_status":
			if !strings.EqualFold(fmt.Sprint(g["status"]), v) {
				return false, nil
			}
		default:
			return false, fmt.Errorf("'%s' is not a supported term", term)
		}
	}
	return true, nil
}
