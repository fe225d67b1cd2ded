package launch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Result is a load-test result read from a tool's report, in the units
// launch criteria compare (config.LoadMetrics): latencies in seconds,
// error_rate a fraction, rps the achieved request rate.
type Result struct {
	Tool    string // k6 or vegeta
	File    string // the file's base name
	Metrics map[string]float64
	// ToolThresholds are the tool's own threshold verdicts, when the
	// report has them (k6): name → passed.
	ToolThresholds map[string]bool
}

// ErrUnknownResult: the file is neither a k6 summary nor a vegeta report.
var ErrUnknownResult = errors.New("not a k6 --summary-export file or a vegeta JSON report")

// maxResultSize bounds a result file: both reports are a few KiB.
const maxResultSize = 4 << 20

// ReadResult reads a k6 or vegeta result file (see ParseResult).
func ReadResult(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadResultFrom(f, filepath.Base(path))
}

// ReadResultFrom reads a result from r (a file, or the standard input of
// ssh HOST import), at most a few MiB; name is what the record calls it.
func ReadResultFrom(r io.Reader, name string) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxResultSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxResultSize {
		return nil, fmt.Errorf("%s is larger than %d MiB: not a result summary", name, maxResultSize>>20)
	}
	res, err := ParseResult(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res.File = name
	return res, nil
}

// ParseResult reads, by its shape:
//
//   - k6's end-of-test summary as `k6 run --summary-export=FILE` writes it
//     (metrics flat: "http_req_duration": {"avg", "min", "med", "max",
//     "p(90)", "p(95)", "thresholds": {"p(95)<500": false}}, counters
//     {"count", "rate"}, rates {"passes", "fails", "value"}; times in
//     milliseconds), and the handleSummary() data object k6 passes to
//     JSON.stringify (metrics under "values", thresholds {"ok": bool}).
//     Documented in k6's "End of test" / "Custom summary" pages. In the
//     --summary-export form a threshold's value is true when it failed.
//     http_req_failed is the error rate, http_reqs the count and rate.
//   - vegeta's `vegeta report -type=json` (latencies in nanoseconds:
//     "latencies": {"mean", "50th", "90th", "95th", "99th", "max"},
//     "requests", "throughput", "rate", "success" a fraction), as in
//     vegeta's README. The error rate is 1 - success; rps is the
//     throughput (successful requests per second), not the attack rate.
func ParseResult(data []byte) (*Result, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(data), &probe); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrUnknownResult, err)
	}
	switch {
	case probe["metrics"] != nil:
		return parseK6(probe["metrics"])
	case probe["latencies"] != nil && probe["requests"] != nil:
		return parseVegeta(data)
	}
	return nil, ErrUnknownResult
}

func parseK6(raw json.RawMessage) (*Result, error) {
	var metrics map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &metrics); err != nil {
		return nil, fmt.Errorf("k6 summary: metrics: %w", err)
	}
	r := &Result{Tool: "k6", Metrics: map[string]float64{}, ToolThresholds: map[string]bool{}}
	// values reads a metric's numbers, flat or under "values".
	values := func(name string) map[string]float64 {
		m := metrics[name]
		if m == nil {
			return nil
		}
		src := m
		if v, ok := m["values"]; ok {
			var inner map[string]json.RawMessage
			if json.Unmarshal(v, &inner) == nil {
				src = inner
			}
		}
		out := map[string]float64{}
		for k, v := range src {
			var f float64
			if json.Unmarshal(v, &f) == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				out[k] = f
			}
		}
		return out
	}
	d := values("http_req_duration")
	if d == nil {
		return nil, errors.New("k6 summary: no http_req_duration metric")
	}
	for k6, ours := range map[string]string{"med": "p50", "p(50)": "p50", "p(90)": "p90", "p(95)": "p95", "p(99)": "p99", "max": "max", "avg": "mean"} {
		if v, ok := d[k6]; ok {
			r.Metrics[ours] = v / 1000 // k6 reports milliseconds
		}
	}
	if c := values("http_reqs"); c != nil {
		if v, ok := c["count"]; ok {
			r.Metrics["requests"] = v
		}
		if v, ok := c["rate"]; ok {
			r.Metrics["rps"] = v
		}
	}
	if f := values("http_req_failed"); f != nil {
		// A rate: "value" in --summary-export, "rate" in handleSummary.
		if v, ok := f["value"]; ok {
			r.Metrics["error_rate"] = v
		} else if v, ok := f["rate"]; ok {
			r.Metrics["error_rate"] = v
		}
	}
	for name, m := range metrics {
		th, ok := m["thresholds"]
		if !ok {
			continue
		}
		var failed map[string]bool // --summary-export: true = failed
		if json.Unmarshal(th, &failed) == nil {
			for k, v := range failed {
				r.ToolThresholds[name+" "+k] = !v
			}
			continue
		}
		var verdicts map[string]struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(th, &verdicts) == nil {
			for k, v := range verdicts {
				r.ToolThresholds[name+" "+k] = v.OK
			}
		}
	}
	return r, nil
}

func parseVegeta(data []byte) (*Result, error) {
	var v struct {
		Latencies  map[string]json.Number `json:"latencies"`
		Requests   *float64               `json:"requests"`
		Rate       float64                `json:"rate"`
		Throughput *float64               `json:"throughput"`
		Success    *float64               `json:"success"`
		Duration   int64                  `json:"duration"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("vegeta report: %w", err)
	}
	r := &Result{Tool: "vegeta", Metrics: map[string]float64{}}
	for vg, ours := range map[string]string{"50th": "p50", "90th": "p90", "95th": "p95", "99th": "p99", "max": "max", "mean": "mean"} {
		if n, ok := v.Latencies[vg]; ok {
			ns, err := strconv.ParseFloat(string(n), 64)
			if err == nil && ns >= 0 {
				r.Metrics[ours] = (time.Duration(ns) * time.Nanosecond).Seconds()
			}
		}
	}
	if v.Requests != nil {
		r.Metrics["requests"] = *v.Requests
	}
	if v.Throughput != nil {
		r.Metrics["rps"] = *v.Throughput
	} else if v.Rate > 0 {
		r.Metrics["rps"] = v.Rate
	}
	if v.Success != nil {
		r.Metrics["error_rate"] = math.Max(0, 1-*v.Success)
	}
	if len(r.Metrics) == 0 {
		return nil, errors.New("vegeta report: no numbers")
	}
	return r, nil
}
