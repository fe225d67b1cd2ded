package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Launch is the optional launch plan: checkpoints and go/no-go criteria
// counted from T-0 (incident.launch, the one place T-0 is written).
type Launch struct {
	// Checkpoints are marks before (or after) T-0, e.g. -48h "load test
	// passed"; each may name the criteria due by then.
	Checkpoints []Checkpoint `yaml:"checkpoints"`
	// Criteria are the go/no-go criteria. Each turns green only from its
	// evidence, and red again when the evidence lapses.
	Criteria []Criterion `yaml:"criteria"`
	// Baseline is the window, relative to T-0, whose samples become each
	// pane's baseline (default -1h to 0).
	Baseline *BaselineWindow `yaml:"baseline"`
}

// Checkpoint is one mark of the plan.
type Checkpoint struct {
	At       Offset   `yaml:"at"`       // relative to T-0: -2w, -48h, -1h, 0
	Name     string   `yaml:"name"`     // what is done by then
	Criteria []string `yaml:"criteria"` // criterion ids due by this checkpoint
}

// Criterion is one go/no-go criterion and the evidence that satisfies it.
// Exactly one of Preflight, Pane, LoadTest, SignOff and Staffed is set.
type Criterion struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`

	// Preflight: a passing `warroom check --live` (run in the room).
	Preflight bool `yaml:"preflight"`
	// Pane: a condition on a pane, "service/pane op number", that must
	// hold for For with fresh data.
	Pane string   `yaml:"pane"`
	For  Duration `yaml:"for"`
	// From (pane criteria) is when, relative to T-0, the condition starts
	// to count (default: as soon as the room runs).
	From *Offset `yaml:"from"`
	// LoadTest: thresholds a load-test result (k6 --summary-export or
	// vegeta's JSON report) must meet, e.g. "p95 < 300ms".
	LoadTest []string `yaml:"load_test"`
	// SignOff: the roster handle whose sign-off is the evidence.
	SignOff string `yaml:"sign_off"`
	// Staffed: every role and every service owner is held by someone who
	// is connected to the room.
	Staffed bool `yaml:"staffed"`
	// MaxAge is how long evidence stays valid (default: preflight 1h,
	// others for good); older evidence lapses and the criterion is red.
	MaxAge Duration `yaml:"max_age"`
	// Expect (load-test criteria) draws the imported result on panes
	// after T-0 as their expected curve, beside the captured baseline:
	// what the load test said the launch would look like.
	Expect []Expect `yaml:"expect"`
}

// Expect is one pane a load-test result is drawn on: a line at one of
// the result's numbers, or a band between two.
type Expect struct {
	Pane string   `yaml:"pane"` // service/pane
	Line string   `yaml:"line"` // a load metric: p95, rps, error_rate, …
	Band []string `yaml:"band"` // two load metrics, low then high: [p50, p99]
	// Scale converts the result's number (seconds, req/s, a fraction) to
	// the pane's unit; default from the unit (s 1, ms 1000, % 100, /min 60).
	Scale *float64 `yaml:"scale"`
}

// Metrics are the load metrics the entry draws: one for a line, two for a
// band.
func (e Expect) Metrics() []string {
	if e.Line != "" {
		return []string{e.Line}
	}
	return e.Band
}

// ScaleFor is the entry's factor from the result's base unit to a pane
// of this unit: scale when given, else ExpectScale's (validation makes
// sure one of them is known).
func (e Expect) ScaleFor(unit string) float64 {
	if e.Scale != nil {
		return *e.Scale
	}
	ms := e.Metrics()
	if len(ms) == 0 {
		return 1
	}
	f, ok := ExpectScale(ms[0], unit)
	if !ok {
		return 1
	}
	return f
}

// loadClass is what a load metric measures: a band's two ends measure
// the same.
func loadClass(m string) string {
	switch m {
	case "error_rate", "rps", "requests":
		return m
	}
	return "latency"
}

// ExpectScale is the factor from a load metric's base unit (seconds,
// requests per second, a fraction) to a pane's unit, for the units
// panes commonly use; ok is false for a unit it does not know.
func ExpectScale(metric, unit string) (float64, bool) {
	u := strings.ToLower(strings.TrimSpace(unit))
	switch metric {
	case "error_rate":
		switch u {
		case "%", "percent":
			return 100, true
		case "", "ratio", "fraction":
			return 1, true
		}
	case "rps":
		switch u {
		case "/s", "req/s", "rps", "requests/s":
			return 1, true
		case "/min", "req/min", "rpm":
			return 60, true
		}
	case "requests":
		return 1, true
	default: // latencies
		switch u {
		case "s", "sec", "seconds":
			return 1, true
		case "ms":
			return 1000, true
		case "µs", "us":
			return 1e6, true
		}
	}
	return 0, false
}

// BaselineWindow is where, relative to T-0, the baseline is taken.
type BaselineWindow struct {
	From Offset `yaml:"from"` // default -1h
	To   Offset `yaml:"to"`   // default 0
}

// CriterionKind names what kind of evidence a criterion takes.
type CriterionKind string

const (
	KindPreflight CriterionKind = "preflight"
	KindPane      CriterionKind = "pane"
	KindLoadTest  CriterionKind = "load_test"
	KindSignOff   CriterionKind = "sign_off"
	KindStaffed   CriterionKind = "staffed"
)

// Defaults of the launch plan.
const (
	DefaultPreflightMaxAge = time.Hour
	DefaultBaselineFrom    = -time.Hour
)

// Kind is the criterion's kind ("" when none or several are set, which
// validation refuses).
func (c Criterion) Kind() CriterionKind {
	var kinds []CriterionKind
	if c.Preflight {
		kinds = append(kinds, KindPreflight)
	}
	if c.Pane != "" {
		kinds = append(kinds, KindPane)
	}
	if c.LoadTest != nil {
		kinds = append(kinds, KindLoadTest)
	}
	if c.SignOff != "" {
		kinds = append(kinds, KindSignOff)
	}
	if c.Staffed {
		kinds = append(kinds, KindStaffed)
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// Lifetime is how long the criterion's evidence stays valid (0: for good).
func (c Criterion) Lifetime() time.Duration {
	if c.MaxAge > 0 {
		return c.MaxAge.D()
	}
	if c.Kind() == KindPreflight {
		return DefaultPreflightMaxAge
	}
	return 0
}

// Criterion returns the criterion with the given id, or nil.
func (l *Launch) Criterion(id string) *Criterion {
	if l == nil {
		return nil
	}
	for i := range l.Criteria {
		if l.Criteria[i].ID == id {
			return &l.Criteria[i]
		}
	}
	return nil
}

// Window is the baseline window (the default when the file has none).
func (l *Launch) Window() (from, to time.Duration) {
	if l == nil || l.Baseline == nil {
		return DefaultBaselineFrom, 0
	}
	return l.Baseline.From.D(), l.Baseline.To.D()
}

// Offset is a time relative to T-0: a Go duration with an optional sign,
// where d (24h) and w (7d) are also units: -2w, -48h, -1h30m, 0, +15m.
type Offset time.Duration

// D returns the offset as a time.Duration.
func (o Offset) D() time.Duration { return time.Duration(o) }

// String writes the offset as T-0 text: T-48h, T-0, T+15m.
func (o Offset) String() string {
	d := time.Duration(o)
	switch {
	case d == 0:
		return "T-0"
	case d < 0:
		return "T-" + shortDur(-d)
	}
	return "T+" + shortDur(d)
}

// shortDur writes whole weeks as w and whole days from three days as d,
// as launch plans say them: 2w, 5d, 48h, 1h30m.
func shortDur(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d%(7*day) == 0:
		return strconv.FormatInt(int64(d/(7*day)), 10) + "w"
	case d%day == 0 && d >= 3*day:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return fmtDur(Duration(d))
}

var offsetUnit = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([wd])`)

// ParseOffset reads offset text (see Offset).
func ParseOffset(s string) (Offset, error) {
	t := strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(t, "-"):
		neg, t = true, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	if t == "" {
		return 0, fmt.Errorf("invalid offset %q", shorten(s))
	}
	var total float64
	for {
		m := offsetUnit.FindStringSubmatch(t)
		if m == nil {
			break
		}
		n, _ := strconv.ParseFloat(m[1], 64)
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		total += n * float64(unit)
		t = t[len(m[0]):]
	}
	if t != "" && t != "0" {
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("invalid offset %q", shorten(s))
		}
		total += float64(d)
	}
	if total > float64(366*24*time.Hour) {
		return 0, fmt.Errorf("offset %q is more than a year", shorten(s))
	}
	if neg {
		total = -total
	}
	return Offset(time.Duration(math.Round(total))), nil
}

// UnmarshalText accepts offset text.
func (o *Offset) UnmarshalText(b []byte) error {
	v, err := ParseOffset(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// MarshalText writes the offset as signed duration text.
func (o Offset) MarshalText() ([]byte, error) {
	d := time.Duration(o)
	if d < 0 {
		return []byte("-" + shortDur(-d)), nil
	}
	return []byte(shortDur(d)), nil
}

// Condition is a pane condition: service/pane op value.
type Condition struct {
	Service, Pane string
	Op            string // < <= > >= == !=
	Value         float64
}

var conditionRe = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)\s*(<=|>=|==|!=|<|>)\s*(\S+?)\s*$`)

// ParseCondition reads "service/pane op number", e.g. "tokens/p95 < 0.3".
// The number is in the pane's unit.
func ParseCondition(s string) (Condition, error) {
	m := conditionRe.FindStringSubmatch(s)
	if m == nil {
		return Condition{}, fmt.Errorf("%s is not service/pane op number", quoteShort(s))
	}
	v, err := strconv.ParseFloat(strings.TrimPrefix(m[4], "+"), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return Condition{}, fmt.Errorf("threshold %s is not a number", quoteShort(m[4]))
	}
	return Condition{Service: m[1], Pane: m[2], Op: m[3], Value: v}, nil
}

// Holds reports whether v meets the condition.
func (c Condition) Holds(v float64) bool { return Compare(v, c.Op, c.Value) }

// String is the condition as written canonically.
func (c Condition) String() string {
	return c.Service + "/" + c.Pane + " " + c.Op + " " + strconv.FormatFloat(c.Value, 'g', -1, 64)
}

// Compare applies a comparison operator.
func Compare(v float64, op string, thr float64) bool {
	switch op {
	case "<":
		return v < thr
	case "<=":
		return v <= thr
	case ">":
		return v > thr
	case ">=":
		return v >= thr
	case "==":
		return v == thr
	case "!=":
		return v != thr
	}
	return false
}

// LoadMetrics are the load-test result metrics a threshold may name, the
// same for k6 and vegeta: latency percentiles and mean (a duration),
// error_rate (a percent or a fraction), rps (achieved requests per
// second) and requests (the count).
var LoadMetrics = []string{"p50", "p90", "p95", "p99", "max", "mean", "error_rate", "rps", "requests"}

// Threshold is one load-test threshold, in base units: seconds for
// latencies, a fraction for error_rate.
type Threshold struct {
	Metric string
	Op     string
	Value  float64
	Text   string // as written
}

var thresholdRe = regexp.MustCompile(`^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*(\S+?)\s*$`)

// ParseThreshold reads "metric op value": p95 < 300ms, error_rate < 1%,
// rps >= 30000.
func ParseThreshold(s string) (Threshold, error) {
	m := thresholdRe.FindStringSubmatch(s)
	if m == nil {
		return Threshold{}, fmt.Errorf("%s is not metric op value", quoteShort(s))
	}
	t := Threshold{Metric: m[1], Op: m[2], Text: strings.TrimSpace(s)}
	if !slices.Contains(LoadMetrics, t.Metric) {
		return Threshold{}, &hintError{msg: "unknown load-test metric " + quoteShort(t.Metric), hint: suggest(t.Metric, LoadMetrics, "one of")}
	}
	raw := m[3]
	switch t.Metric {
	case "error_rate":
		pct := strings.HasSuffix(raw, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(raw, "%"), 64)
		if err != nil || v < 0 || pct && v > 100 || !pct && v > 1 {
			return Threshold{}, fmt.Errorf("error_rate %s is not a percent (1%%) or a fraction (0.01)", quoteShort(raw))
		}
		if pct {
			v /= 100
		}
		t.Value = v
	case "rps", "requests":
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return Threshold{}, fmt.Errorf("%s %s is not a number", t.Metric, quoteShort(raw))
		}
		t.Value = v
	default:
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return Threshold{}, fmt.Errorf("%s %s is not a duration such as 300ms", t.Metric, quoteShort(raw))
		}
		t.Value = d.Seconds()
	}
	return t, nil
}

// hintError is a parse error that knows its best hint.
type hintError struct{ msg, hint string }

func (e *hintError) Error() string { return e.msg + " (" + e.hint + ")" }

// Thresholds parses a criterion's load_test list (valid after Parse).
func (c Criterion) Thresholds() []Threshold {
	var out []Threshold
	for _, s := range c.LoadTest {
		if t, err := ParseThreshold(s); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// Condition parses a pane criterion's condition (valid after Parse).
func (c Criterion) Condition() (Condition, bool) {
	cond, err := ParseCondition(c.Pane)
	return cond, err == nil
}

func (v *validator) launch(handles []string) {
	l := v.c.Launch
	if l == nil {
		return
	}
	if v.c.Incident.Launch == nil && !v.isBad("incident.launch") {
		v.atKey("launch", "a launch plan counts from T-0, and incident.launch is not set", "write incident.launch: 2024-01-31T10:00:00-08:00")
	}
	seen := map[string]string{}
	var ids []string
	expected := map[string]bool{} // panes with an expected curve
	for i, c := range l.Criteria {
		p := fmt.Sprintf("launch.criteria[%d]", i)
		if v.id(p+".id", c.ID, "criterion id", seen) {
			ids = append(ids, c.ID)
		}
		v.name(p+".title", c.Title)
		kinds := 0
		for _, set := range []bool{c.Preflight, c.Pane != "", c.LoadTest != nil, c.SignOff != "", c.Staffed} {
			if set {
				kinds++
			}
		}
		const kindHint = "one of preflight: true, pane: \"svc/pane < n\", load_test: [...], sign_off: handle, staffed: true"
		switch {
		case kinds == 0:
			v.at(p, "a criterion needs its evidence", kindHint)
			continue
		case kinds > 1:
			v.at(p, "a criterion takes one kind of evidence", kindHint+"; split it into two criteria")
			continue
		}
		switch c.Kind() {
		case KindPane:
			cond, err := ParseCondition(c.Pane)
			if err != nil {
				v.at(p+".pane", err.Error(), `e.g. pane: "tokens/p95 < 0.3"; op is < <= > >= == or !=, the number in the pane's unit`)
				break
			}
			if svc := v.c.Service(cond.Service); svc == nil {
				var sids []string
				for _, s := range v.c.Services {
					sids = append(sids, s.ID)
				}
				v.at(p+".pane", "no service "+quoteShort(cond.Service), suggest(cond.Service, sids, "services"))
			} else if !slices.ContainsFunc(svc.Panes, func(x Pane) bool { return x.ID == cond.Pane }) {
				var pids []string
				for _, x := range svc.Panes {
					pids = append(pids, x.ID)
				}
				v.at(p+".pane", fmt.Sprintf("service %s has no pane %s", cond.Service, quoteShort(cond.Pane)), suggest(cond.Pane, pids, "its panes"))
			}
			if c.For < 0 {
				v.at(p+".for", "must not be negative", "how long the condition must hold, e.g. 10m")
			}
		case KindLoadTest:
			if len(c.LoadTest) == 0 {
				v.at(p+".load_test", "list at least one threshold", "e.g. [p95 < 300ms, error_rate < 1%, rps >= 30000]")
			}
			for j, s := range c.LoadTest {
				if _, err := ParseThreshold(s); err != nil {
					msg, hint := err.Error(), "metric op value, e.g. p95 < 300ms"
					if he, ok := err.(*hintError); ok {
						msg, hint = he.msg, he.hint
					}
					v.at(fmt.Sprintf("%s.load_test[%d]", p, j), msg, hint)
				}
			}
		case KindSignOff:
			v.ref(p+".sign_off", c.SignOff, handles)
		}
		if c.Kind() != KindLoadTest && v.has(p+".expect") {
			v.atKey(p+".expect", "expect applies to load_test criteria", "it draws an imported result on panes")
		}
		if c.Kind() == KindLoadTest {
			v.expects(p, c.Expect, expected)
		}
		if c.Kind() != KindPane {
			for _, f := range []string{"for", "from"} {
				if v.has(p + "." + f) {
					v.atKey(p+"."+f, f+" applies to pane criteria", "")
				}
			}
		}
		if v.has(p+".max_age") && c.MaxAge <= 0 {
			v.at(p+".max_age", "must be a positive duration", "leave it out: preflight evidence lasts 1h, other evidence for good")
		}
	}
	var prev *Checkpoint // the last checkpoint with a valid time
	for i, cp := range l.Checkpoints {
		p := fmt.Sprintf("launch.checkpoints[%d]", i)
		if strings.TrimSpace(cp.Name) == "" {
			v.at(p+".name", missing, "say what is done by then, e.g. name: load test passed")
		}
		v.name(p+".name", cp.Name)
		if !v.has(p + ".at") {
			v.at(p+".at", missing, "relative to T-0, e.g. at: -48h")
		}
		if v.has(p+".at") && !v.isBad(p+".at") {
			if prev != nil && cp.At < prev.At {
				v.at(p+".at", fmt.Sprintf("%s comes before the checkpoint above it (%s)", cp.At, prev.At), "list checkpoints in time order")
			}
			prev = &l.Checkpoints[i]
		}
		for j, id := range cp.Criteria {
			if !slices.Contains(ids, id) && !v.isBad(fmt.Sprintf("%s.criteria[%d]", p, j)) {
				v.at(fmt.Sprintf("%s.criteria[%d]", p, j), "no criterion "+quoteShort(id), suggest(id, ids, "criteria"))
			}
		}
	}
	if b := l.Baseline; b != nil {
		if !v.has("launch.baseline.from") {
			b.From = Offset(DefaultBaselineFrom)
		}
		if b.To <= b.From {
			v.at("launch.baseline.to", fmt.Sprintf("the window ends (%s) before it starts (%s)", b.To, b.From), "e.g. from: -1h, to: 0")
		}
	}
}

// expects checks a load-test criterion's expect entries.
// seen holds the panes expected so far in the plan: one curve per pane.
func (v *validator) expects(p string, es []Expect, seen map[string]bool) {
	for i, e := range es {
		ep := fmt.Sprintf("%s.expect[%d]", p, i)
		pane := v.paneRef(ep+".pane", e.Pane)
		if pane != nil && seen[e.Pane] {
			v.at(ep+".pane", "the pane is already expected by an entry above", "one expected curve per pane")
		}
		seen[e.Pane] = true
		switch {
		case e.Line == "" && e.Band == nil:
			v.at(ep, "draw a line or a band", "line: p95, or band: [p50, p99]")
			continue
		case e.Line != "" && e.Band != nil:
			v.at(ep, "draw a line or a band, not both", "line: p95, or band: [p50, p99]")
			continue
		case e.Band != nil && len(e.Band) != 2:
			v.at(ep+".band", "a band is two metrics, low then high", "e.g. band: [p50, p99]")
			continue
		}
		if e.Band != nil && loadClass(e.Band[0]) != loadClass(e.Band[1]) {
			v.at(ep+".band", "a band's two ends measure different things", "two latencies (e.g. [p50, p99]), or one metric as a line")
			continue
		}
		field := ep + ".line"
		if e.Band != nil {
			field = ep + ".band"
		}
		ok := true
		for j, m := range e.Metrics() {
			if !slices.Contains(LoadMetrics, m) {
				f := field
				if e.Band != nil {
					f = fmt.Sprintf("%s[%d]", field, j)
				}
				v.at(f, "unknown load-test metric "+quoteShort(m), suggest(m, LoadMetrics, "one of"))
				ok = false
			}
		}
		switch {
		case e.Scale != nil && (*e.Scale <= 0 || math.IsInf(*e.Scale, 0) || math.IsNaN(*e.Scale)):
			v.at(ep+".scale", "must be a positive number", "the factor from the result's unit to the pane's, e.g. 1000 for ms")
		case e.Scale == nil && ok && pane != nil:
			for _, m := range e.Metrics() {
				if _, known := ExpectScale(m, pane.Unit); !known {
					v.at(ep+".scale", fmt.Sprintf("the pane's unit %s is not one warroom converts %s to", quoteShort(pane.Unit), m),
						"give scale: the factor from the result's unit (seconds, req/s, a fraction) to the pane's")
					break
				}
			}
		}
	}
}

// paneRef checks a "service/pane" reference and returns the pane.
func (v *validator) paneRef(path, ref string) *Pane {
	svcID, paneID, ok := strings.Cut(ref, "/")
	if !ok || svcID == "" || paneID == "" {
		v.at(path, quoteShort(ref)+" is not service/pane", "e.g. tokens/p95")
		return nil
	}
	svc := v.c.Service(svcID)
	if svc == nil {
		var sids []string
		for _, s := range v.c.Services {
			sids = append(sids, s.ID)
		}
		v.at(path, "no service "+quoteShort(svcID), suggest(svcID, sids, "services"))
		return nil
	}
	var pids []string
	for i := range svc.Panes {
		if svc.Panes[i].ID == paneID {
			return &svc.Panes[i]
		}
		pids = append(pids, svc.Panes[i].ID)
	}
	v.at(path, fmt.Sprintf("service %s has no pane %s", svcID, quoteShort(paneID)), suggest(paneID, pids, "its panes"))
	return nil
}

// applyLaunchDefaults fills the launch plan's defaults.
func applyLaunchDefaults(c *Config) {
	l := c.Launch
	if l == nil {
		return
	}
	for i := range l.Criteria {
		cr := &l.Criteria[i]
		if cr.Title == "" {
			cr.Title = cr.ID
		}
	}
	if l.Baseline == nil {
		l.Baseline = &BaselineWindow{From: Offset(DefaultBaselineFrom)}
	}
}
