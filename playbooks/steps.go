package playbooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/incident"
)

// MaxResponse bounds how much of a response body is read.
const MaxResponse = 1 << 20

// ErrDryRunMutation is what the dry-run transport answers to any request
// that is not GET or HEAD: a dry run cannot change anything, whatever a
// step claims.
var ErrDryRunMutation = errors.New("dry run: refusing to send a request that may change something")

// dryTransport refuses every request but GET and HEAD.
type dryTransport struct{ next http.RoundTripper }

func (t dryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return nil, ErrDryRunMutation
	}
	return t.next.RoundTrip(req)
}

type stepResult struct {
	output  string // masked, truncated: what the timeline keeps
	summary string // one line
	err     error
	// notApplied: the server answered 4xx, so a mutating request was
	// refused and changed nothing (a 412 on If-Match: someone else
	// changed it; rolling back would overwrite their change).
	notApplied bool
}

// describe is one line saying what a step will do (no secrets: templates
// may only put secrets in headers, which are not shown).
func (x *execution) describe(s *Step) string {
	switch s.Kind {
	case KindHTTP:
		if req, err := buildRequest(s.HTTP, x.env); err == nil {
			return req.Method + " " + req.Shown
		}
		return s.HTTP.Method + " " + s.HTTP.URL.raw
	case KindExec:
		return "exec " + strings.Join(quoteArgs(s.Exec.Argv), " ")
	case KindWaitMetric:
		return fmt.Sprintf("wait until %s for %s (timeout %s)", s.Wait.Condition, s.Wait.For, s.Wait.Timeout)
	case KindNote:
		return "note"
	case KindSlack:
		return "slack message"
	}
	return string(s.Kind)
}

func quoteArgs(a []string) []string {
	out := make([]string, len(a))
	for i, s := range a {
		if s == "" || strings.ContainsAny(s, " \t\"'\\$`;&|<>()*?[]{}") {
			s = strconv.Quote(s)
		}
		out[i] = s
	}
	return out
}

// runStep executes one step with its timeout.
func (x *execution) runStep(ctx context.Context, s *Step) stepResult {
	ctx, cancel := context.WithTimeoutCause(ctx, s.Timeout, fmt.Errorf("step %s timed out after %s", s.ID, s.Timeout))
	defer cancel()
	out := x.newOutput(s.ID)
	var res stepResult
	switch s.Kind {
	case KindHTTP:
		res = x.httpStep(ctx, s, out)
	case KindExec:
		res = x.execStep(ctx, s, out)
	case KindWaitMetric:
		res = x.waitStep(ctx, s, out)
	case KindNote:
		res = x.noteStep(ctx, s, out, false)
	case KindSlack:
		res = x.noteStep(ctx, s, out, true)
	}
	out.Close()
	if res.err != nil && ctx.Err() != nil {
		if c := context.Cause(ctx); c != nil {
			res.err = c
		}
	}
	kept := out.String()
	if res.output != "" {
		kept = res.output + kept
	}
	res.output = truncate(x.mask.Mask(kept), OutputLimit)
	res.summary = x.mask.Mask(res.summary)
	return res
}

func (x *execution) httpStep(ctx context.Context, s *Step, out *output) stepResult {
	h := s.HTTP
	req, err := buildRequest(h, x.env)
	if err != nil {
		return stepResult{err: fmt.Errorf("build request: %w", err)}
	}
	if x.dry && s.Mutates() {
		return stepResult{err: ErrDryRunMutation}
	}
	client := x.r.client
	if x.dry {
		client = &http.Client{Transport: dryTransport{client.Transport}, CheckRedirect: client.CheckRedirect}
	}
	attempts := 1
	if idempotent(h.Method) {
		attempts += h.Retries
	}
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		var body io.Reader
		if req.Body != nil {
			body = bytes.NewReader(req.Body)
		}
		hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL.String(), body)
		if err != nil {
			return stepResult{err: err}
		}
		hr.Header = req.Header.Clone()
		if s.Mutates() {
			x.r.mutations.Add(1)
		}
		start := time.Now()
		resp, err := client.Do(hr)
		if err != nil {
			last = fmt.Errorf("%s %s: %w", req.Method, req.Shown, unwrapURLError(err))
			if ctx.Err() != nil || attempt == attempts {
				return stepResult{err: last}
			}
			fmt.Fprintf(out, "attempt %d: %v\n", attempt, x.mask.Mask(last.Error()))
			if err := sleepCtx(ctx, backoff(attempt)); err != nil {
				return stepResult{err: last}
			}
			continue
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
		resp.Body.Close()
		elapsed := time.Since(start).Round(time.Millisecond)
		fmt.Fprintf(out, "HTTP %d in %s\n", resp.StatusCode, elapsed)
		if len(data) > 0 {
			out.Write(data)
			if data[len(data)-1] != '\n' {
				out.Write([]byte("\n"))
			}
		}
		if rerr != nil {
			return stepResult{err: fmt.Errorf("reading the response: %w", rerr)}
		}
		retryable := resp.StatusCode == 429 || resp.StatusCode == 502 || resp.StatusCode == 503 || resp.StatusCode == 504
		if retryable && attempt < attempts {
			wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if !ok {
				wait = backoff(attempt)
			}
			if dl, has := ctx.Deadline(); has && time.Until(dl) < wait {
				return stepResult{err: fmt.Errorf("HTTP %d; Retry-After %s is longer than the step's remaining time", resp.StatusCode, wait.Round(time.Second))}
			}
			fmt.Fprintf(out, "attempt %d: HTTP %d, retrying in %s\n", attempt, resp.StatusCode, wait.Round(time.Millisecond))
			if err := sleepCtx(ctx, wait); err != nil {
				return stepResult{err: err}
			}
			continue
		}
		if !expected(h.Expect, resp.StatusCode) {
			return stepResult{err: fmt.Errorf("%s %s: HTTP %d (expected %s): %s", req.Method, req.Shown, resp.StatusCode, expectText(h.Expect), firstLine(data)),
				notApplied: resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout}
		}
		summary := fmt.Sprintf("%s %s → %d", req.Method, req.Shown, resp.StatusCode)
		res := stepResult{summary: summary}
		if len(h.Save) > 0 || x.dry {
			saved, parsed, err := extractSaves(h.Save, resp.Header, data)
			if err != nil {
				return stepResult{err: err, summary: summary}
			}
			if parsed != nil {
				x.bodies[s.ID] = parsed
			}
			if len(saved) > 0 {
				enc := encodeSaves(saved)
				if len(enc) > OutputLimit/2 {
					return stepResult{err: fmt.Errorf("the values step %s saves are too large to record (%d bytes; at most %d)", s.ID, len(enc), OutputLimit/2)}
				}
				if x.mask.Contains(enc) {
					return stepResult{err: errors.New("a saved value contains a secret; refusing to record it")}
				}
				x.env.saves[s.ID] = saved
				res.output = enc + "\n"
				var parts []string
				for _, sv := range h.Save {
					parts = append(parts, sv.Name+"="+valueString(saved[sv.Name]))
				}
				res.summary += " (saved " + strings.Join(parts, " ") + ")"
			}
		}
		return res
	}
	return stepResult{err: last}
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

func expected(want []int, code int) bool {
	if len(want) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(want, code)
}

func expectText(want []int) string {
	if len(want) == 0 {
		return "2xx"
	}
	s := make([]string, len(want))
	for i, c := range want {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, " or ")
}

// retryAfter parses Retry-After: seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// backoff is exponential with full jitter: 0..(250ms·2^attempt), capped.
func backoff(attempt int) time.Duration {
	ceil := time.Duration(250*math.Pow(2, float64(attempt))) * time.Millisecond
	ceil = min(ceil, 10*time.Second)
	return time.Duration(rand.Int64N(int64(ceil)) + 1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// extractSaves reads the step's saves from the response. parsed is the
// decoded JSON body, if it is JSON.
func extractSaves(saves []save, hdr http.Header, body []byte) (map[string]any, any, error) {
	var parsed any
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if dec.Decode(&parsed) == nil {
			parsed = normalize(parsed)
		} else {
			parsed = nil
		}
	}
	out := map[string]any{}
	for _, sv := range saves {
		if sv.Header != "" {
			v := hdr.Get(sv.Header)
			if v == "" {
				return nil, parsed, fmt.Errorf("save %s: the response has no %s header", sv.Name, sv.Header)
			}
			out[sv.Name] = v
			continue
		}
		if parsed == nil {
			return nil, nil, fmt.Errorf("save %s: the response is not JSON", sv.Name)
		}
		v, err := jsonPath(parsed, sv.Path)
		if err != nil {
			return nil, parsed, fmt.Errorf("save %s (%s): %w", sv.Name, sv.Source, err)
		}
		out[sv.Name] = v
	}
	return out, parsed, nil
}

func jsonPath(v any, path []string) (any, error) {
	for _, p := range path {
		if strings.HasPrefix(p, "[") {
			i, _ := strconv.Atoi(p[1 : len(p)-1])
			arr, ok := v.([]any)
			if !ok || i >= len(arr) {
				return nil, fmt.Errorf("no element %s", p)
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no field %q (not an object)", p)
		}
		if v, ok = obj[p]; !ok {
			return nil, fmt.Errorf("no field %q", p)
		}
	}
	return v, nil
}

// execStep runs a literal argv in its own process group. Parameters
// arrive only as WARROOM_PARAM_<NAME>; the environment is built from
// scratch (nothing of warroom's own environment, which holds tokens, is
// passed on except PATH).
func (x *execution) execStep(ctx context.Context, s *Step, out *output) stepResult {
	e := s.Exec
	if x.dry && !s.ReadOnly {
		return stepResult{err: ErrDryRunMutation}
	}
	dir := x.pb.dir
	if e.Dir != "" {
		if filepath.IsAbs(e.Dir) {
			dir = e.Dir
		} else {
			dir = filepath.Join(dir, e.Dir)
		}
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	environ := []string{"PATH=" + path, "LANG=C.UTF-8", "HOME=" + dir,
		"WARROOM_RUN_ID=" + x.runID, "WARROOM_PLAYBOOK=" + x.pb.ID, "WARROOM_STEP=" + s.ID}
	if x.dry {
		environ = append(environ, "WARROOM_DRY_RUN=1")
	}
	for _, p := range x.pb.Params {
		if v, ok := x.env.params[p.Name]; ok {
			environ = append(environ, "WARROOM_PARAM_"+strings.ToUpper(p.Name)+"="+valueString(v))
		}
	}
	for step, vals := range x.env.saves {
		for k, v := range vals {
			name := "WARROOM_SAVED_" + strings.ToUpper(strings.ReplaceAll(step, "-", "_")) + "_" + strings.ToUpper(k)
			environ = append(environ, name+"="+valueString(v))
		}
	}
	for _, ev := range e.Env {
		v, err := x.env.render(ev.Value, nil)
		if err != nil {
			return stepResult{err: fmt.Errorf("env %s: %w", ev.Name, err)}
		}
		environ = append(environ, ev.Name+"="+v)
	}
	for _, se := range e.SecretEnv {
		environ = append(environ, se.Name+"="+x.env.secrets[se.Secret])
	}
	for _, kv := range environ {
		if strings.ContainsRune(kv, 0) {
			return stepResult{err: errors.New("an environment value contains a NUL byte")}
		}
	}
	prog := e.Argv[0]
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) {
		// Absolute: a relative Path would be taken from cmd.Dir a second time.
		prog = filepath.Join(x.pb.dir, prog)
	} else if !strings.Contains(prog, "/") {
		found, err := lookPath(prog, path)
		if err != nil {
			return stepResult{err: err}
		}
		prog = found
	}
	cmd := &exec.Cmd{Path: prog, Args: append([]string{e.Argv[0]}, e.Argv[1:]...), Env: environ, Dir: dir,
		Stdin: nil, Stdout: out, Stderr: out}
	x.r.procStarts.Add(1)
	start := time.Now()
	err := runGroup(ctx, cmd)
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stepResult{err: fmt.Errorf("%s exited with %s after %s", e.Argv[0], ee.ProcessState.String(), elapsed)}
		}
		return stepResult{err: err}
	}
	return stepResult{summary: fmt.Sprintf("%s exited 0 after %s", e.Argv[0], elapsed)}
}

func lookPath(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: program not found in PATH", name)
}

// waitStep waits until the pane's live value meets the condition for the
// required time. Stale, missing and out-of-date values never count.
func (x *execution) waitStep(ctx context.Context, s *Step, out *output) stepResult {
	w := s.Wait
	thr, err := x.threshold(w)
	if err != nil {
		return stepResult{err: err}
	}
	eng, clk := x.r.eng, x.r.clk
	key := incident.PaneKey(w.Service, w.Pane)
	deadline := clk.After(w.Timeout)
	var since time.Time
	lastWhy := "no value yet"
	report := ""
	st, sub, err := eng.Subscribe(ctx, 256)
	if err != nil {
		return stepResult{err: err}
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	feed := incident.Feed(fctx, eng, sub, 256)
	check := func() (bool, string) {
		now := clk.Now()
		ok, why := meets(st.Panes[key], w, thr, now)
		lastWhy = why
		if why != report {
			fmt.Fprintf(out, "%s %s\n", now.UTC().Format("15:04:05"), why)
			report = why
		}
		if !ok {
			since = time.Time{}
			return false, why
		}
		if since.IsZero() {
			since = now
		}
		return now.Sub(since) >= w.For, why
	}
	tick := clk.After(time.Second)
	for {
		if ok, why := check(); ok {
			return stepResult{summary: fmt.Sprintf("%s held for %s (%s)", w.Condition, w.For, why)}
		}
		select {
		case <-ctx.Done():
			return stepResult{err: context.Cause(ctx)}
		case <-deadline:
			return stepResult{err: fmt.Errorf("%s did not hold for %s within %s (last: %s)", w.Condition, w.For, w.Timeout, lastWhy)}
		case <-tick:
			tick = clk.After(time.Second)
		case it, ok := <-feed:
			switch {
			case !ok && ctx.Err() != nil:
				return stepResult{err: context.Cause(ctx)}
			case !ok:
				return stepResult{err: incident.ErrStopped}
			case it.State != nil:
				st = it.State // fell behind: a fresh snapshot
			default:
				st.ApplyUpdate(it.Update)
			}
		}
	}
}

func (x *execution) threshold(w *WaitStep) (float64, error) {
	v, err := x.env.value(w.Value)
	if err != nil {
		return 0, err
	}
	switch t := v.(type) {
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case string:
		f, err := strconv.ParseFloat(t, 64)
		if err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("threshold of %s is not a number", w.Condition)
}

// meets evaluates a wait condition against a pane.
func meets(p *incident.Pane, w *WaitStep, thr float64, now time.Time) (bool, string) {
	name := w.Service + "/" + w.Pane
	switch {
	case p == nil || !p.HasData && !p.NoData && !p.Stale:
		return false, name + " has no data yet"
	case p.Stale:
		return false, name + " is STALE"
	case !p.LimitedUntil.IsZero():
		return false, name + " is rate-limited (no current value)"
	case p.NoData:
		return false, name + " has NO DATA"
	case !p.HasData:
		return false, name + " has no data yet"
	case now.Sub(p.Updated) > w.MaxAge:
		return false, fmt.Sprintf("%s last updated %s ago (older than %s)", name, incident.Age(now.Sub(p.Updated)), w.MaxAge)
	}
	v := p.Value
	var ok bool
	switch w.Op {
	case "<":
		ok = v < thr
	case "<=":
		ok = v <= thr
	case ">":
		ok = v > thr
	case ">=":
		ok = v >= thr
	case "==":
		ok = v == thr
	case "!=":
		ok = v != thr
	}
	verb := "meets"
	if !ok {
		verb = "does not meet"
	}
	// The measured value to three significant digits (a pane's float
	// prints with 17); the threshold as the playbook wrote it.
	return ok, fmt.Sprintf("%s = %s %s %s %s", name, incident.FormatValue(v, ""), verb, w.Op, fmtFloat(thr))
}

// noteStep writes a note to the timeline, or posts to Slack through the
// mirror. Neither fails the run: a message is not a mitigation.
func (x *execution) noteStep(ctx context.Context, s *Step, out *output, slack bool) stepResult {
	text, err := x.env.render(s.Text, nil)
	if err != nil {
		return stepResult{err: err}
	}
	text = x.mask.Mask(text)
	if x.dry {
		return stepResult{summary: "would post: " + firstLine([]byte(text))}
	}
	if slack {
		if x.r.o.Slack == nil {
			note := "Slack is not configured; this message was not sent: " + text
			x.note(ctx, note, out)
			return stepResult{summary: "Slack is not configured: recorded as a note"}
		}
		err := x.r.o.Slack.PostPlaybookMessage(ctx, SlackMessage{RunID: x.runID, Playbook: x.pb.ID, Service: x.pb.Service, Step: s.ID, Text: text})
		if err != nil {
			fmt.Fprintf(out, "slack post failed: %v\n", x.mask.MaskError(err))
			return stepResult{summary: "slack post failed (the run goes on)"}
		}
		fmt.Fprintf(out, "posted to Slack: %s\n", text)
		return stepResult{summary: "posted to Slack"}
	}
	x.note(ctx, text, out)
	return stepResult{summary: "note written"}
}

func (x *execution) note(ctx context.Context, text string, out *output) {
	if len(text) > incident.MaxNoteLen {
		text = truncate(text, incident.MaxNoteLen-64)
	}
	rep := x.r.eng.Do(ctx, incident.Note{By: x.by, Service: x.pb.Service, Text: text})
	if rep.Err != nil {
		fmt.Fprintf(out, "note not written (%v): %s\n", rep.Err, text)
	}
}

// output collects a step's output: each complete line is masked and
// streamed; the timeline keeps the first and last KiB. A secret split
// across writes is still masked (lines are assembled first); a very long
// line is cut only where no secret form straddles the cut.
type output struct {
	x    *execution
	step string
	mask lineMasker

	mu      sync.Mutex
	pending []byte
	head    []byte
	tail    []byte
	omitted int
	closed  bool
}

const maxLine = 16 << 10

func (x *execution) newOutput(step string) *output {
	return &output{x: x, step: step, mask: lineMasker{m: x.mask}}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return len(p), nil
	}
	o.pending = append(o.pending, p...)
	for {
		i := bytes.IndexByte(o.pending, '\n')
		if i < 0 {
			break
		}
		o.emit(string(o.pending[:i]))
		o.pending = o.pending[i+1:]
	}
	for len(o.pending) > maxLine {
		// A line too long to hold is shown in pieces; the masker sees
		// the pieces as lines, and finds a secret cut between two.
		cut := maxLine
		for cut > maxLine-4 && !validStart(o.pending[cut]) {
			cut-- // not through a UTF-8 sequence (binary output is cut anywhere)
		}
		o.emit(string(o.pending[:cut]))
		o.pending = append([]byte(nil), o.pending[cut:]...)
	}
	return len(p), nil
}

// emit passes a line through the output's masker and shows what it lets
// through.
func (o *output) emit(line string) {
	for _, l := range o.mask.push(line) {
		o.show(l)
	}
}

func (o *output) show(line string) {
	line = strings.ToValidUTF8(line, "?")
	if !o.x.dry {
		o.x.r.emitOutput(OutputLine{RunID: o.x.runID, Step: o.step, Line: line, Time: time.Now()})
	}
	o.keep(line + "\n")
}

func (o *output) keep(s string) {
	const half = OutputLimit / 2
	if len(o.head) < half {
		n := min(half-len(o.head), len(s))
		o.head = append(o.head, s[:n]...)
		s = s[n:]
	}
	if s == "" {
		return
	}
	o.tail = append(o.tail, s...)
	if len(o.tail) > half {
		drop := len(o.tail) - half
		o.omitted += drop
		o.tail = append(o.tail[:0], o.tail[drop:]...)
	}
}

// Close flushes a last line without a newline.
func (o *output) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) > 0 {
		o.emit(string(o.pending))
		o.pending = nil
	}
	for _, l := range o.mask.flush() {
		o.show(l)
	}
	o.closed = true
}

// String is what the timeline keeps.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.omitted == 0 {
		return string(o.head) + string(o.tail)
	}
	return string(o.head) + fmt.Sprintf("… (%d bytes omitted) …\n", o.omitted) + string(o.tail)
}

// emitOutput hands a line to the Output option and to control-socket
// watchers.
func (r *Runner) emitOutput(l OutputLine) {
	if f := r.o.Output; f != nil {
		f(l)
	}
	r.mu.Lock()
	ws := make([]func(OutputLine), 0, len(r.watchers))
	for _, w := range r.watchers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		w(l)
	}
}
