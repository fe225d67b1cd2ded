package playbooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/incident"
)

// Plan is a dry run: what a run would do, with the values the read-only
// steps captured and the exact requests the other steps would send.
type Plan struct {
	Playbook *Playbook
	Params   Values
	Hash     string
	At       time.Time // when the read-only steps read the current values
	Steps    []PlannedStep
	// Processes counts processes started (read-only exec steps only).
	Processes int
}

// PlannedStep is one step of a dry run.
type PlannedStep struct {
	Section string // steps, verify or rollback
	ID      string
	Kind    StepKind
	Ran     bool   // a read-only step, executed for real
	What    string // the request, argv, condition or text
	Changes []Change
	Result  string // summary of a step that ran
	Output  string
	Error   string
}

// Change is one field a request would change: old → new, from the
// values a capture step read.
type Change struct {
	Field    string
	Old, New string
}

// DryRunOptions configure a dry run outside a Runner (the CLI).
type DryRunOptions struct {
	Transport http.RoundTripper // default: http.DefaultTransport clone
	// State gives wait_metric steps the panes' live values; nil shows
	// them as unknown.
	State *incident.State
	Clock clock.Clock
}

// DryRun shows what a run would do. Only GET and HEAD requests and exec
// steps marked read_only run; the transport refuses anything else and no
// other process is started. Verify and rollback steps are only shown.
func DryRun(ctx context.Context, pb *Playbook, raw map[string]string, o DryRunOptions) (*Plan, error) {
	vals, err := pb.ValidateParams(raw)
	if err != nil {
		return nil, err
	}
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	r := &Runner{clk: clk, client: &http.Client{Transport: dryTransport{tr}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	x, err := r.newExecution(pb, vals, "dry-run", "dry-run", true)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Playbook: pb, Params: vals, Hash: pb.Hash(vals), At: clk.Now()}
	for _, sec := range []struct {
		name  string
		steps []*Step
		run   bool
	}{{"steps", pb.Steps, true}, {"verify", pb.Verify, false}, {"rollback", pb.Rollback, false}} {
		for _, s := range sec.steps {
			plan.Steps = append(plan.Steps, x.plan(ctx, s, sec.name, sec.run, o.State, clk.Now()))
		}
	}
	plan.Processes = int(r.procStarts.Load())
	return plan, nil
}

// DryRun is DryRun with the runner's transport and the engine's panes.
func (r *Runner) DryRun(ctx context.Context, playbook string, raw map[string]string) (*Plan, error) {
	pb, ok := r.cat.Get(playbook)
	if !ok {
		return nil, &ParamError{Playbook: playbook, Problems: []string{"no such playbook" + hintList(playbook, r.cat)}}
	}
	st, err := r.state(ctx)
	if err != nil {
		return nil, err
	}
	p, err := DryRun(ctx, pb, raw, DryRunOptions{Transport: r.client.Transport, State: st, Clock: r.clk})
	if p != nil {
		r.procStarts.Add(int64(p.Processes))
	}
	return p, err
}

func (x *execution) plan(ctx context.Context, s *Step, section string, run bool, st *incident.State, now time.Time) PlannedStep {
	ps := PlannedStep{Section: section, ID: s.ID, Kind: s.Kind}
	switch s.Kind {
	case KindHTTP:
		req, err := buildRequest(s.HTTP, x.env)
		if err != nil {
			ps.Error = x.mask.MaskError(err)
			return ps
		}
		ps.What = x.mask.Mask(req.display())
		if s.HTTP.Diff != "" && req.Body != nil {
			ps.Changes = x.changes(s.HTTP.Diff, req.Body)
		}
		if run && !s.Mutates() {
			res := x.runStep(ctx, s)
			ps.Ran, ps.Result, ps.Output = true, res.summary, res.output
			if res.err != nil {
				ps.Error = x.mask.MaskError(res.err)
			}
		}
	case KindExec:
		var env []string
		for _, p := range x.pb.Params {
			env = append(env, "WARROOM_PARAM_"+strings.ToUpper(p.Name)+"="+valueString(x.env.params[p.Name]))
		}
		ps.What = x.mask.Mask("exec " + strings.Join(quoteArgs(s.Exec.Argv), " ") + "\n  env: " + strings.Join(env, " "))
		if run && s.ReadOnly {
			res := x.runStep(ctx, s)
			ps.Ran, ps.Result, ps.Output = true, res.summary, res.output
			if res.err != nil {
				ps.Error = x.mask.MaskError(res.err)
			}
		}
	case KindWaitMetric:
		w := s.Wait
		ps.What = fmt.Sprintf("wait until %s holds for %s (timeout %s)", w.Condition, w.For, w.Timeout)
		if thr, err := x.threshold(w); err == nil && st != nil {
			_, why := meets(st.Panes[incident.PaneKey(w.Service, w.Pane)], w, thr, now)
			ps.Result = "now: " + why
		} else if st == nil {
			ps.Result = "now: live pane values are not available in this process"
		}
	case KindNote, KindSlack:
		text, err := x.env.render(s.Text, nil)
		if err != nil {
			ps.Error = x.mask.MaskError(err)
			return ps
		}
		ps.What = string(s.Kind) + ": " + x.mask.Mask(text)
	}
	return ps
}

// changes compares a body's top-level fields with what a capture step
// read: old → new.
func (x *execution) changes(step string, body []byte) []Change {
	var planned map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&planned) != nil {
		return nil
	}
	captured, _ := x.bodies[step].(map[string]any)
	var out []Change
	for _, k := range orderedKeys(body) {
		v, ok := planned[k]
		if !ok {
			continue
		}
		c := Change{Field: k, New: valueString(normalize(v)), Old: "(not captured)"}
		if captured != nil {
			if old, ok := captured[k]; ok {
				c.Old = valueString(old)
			} else {
				c.Old = "(absent)"
			}
		}
		out = append(out, c)
	}
	return out
}

// orderedKeys lists a JSON object's top-level keys in order.
func orderedKeys(body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// Text renders the plan for a terminal.
func (p *Plan) Text() string {
	var b strings.Builder
	pb := p.Playbook
	fmt.Fprintf(&b, "DRY RUN of %s: %s\n", pb.ID, pb.Title)
	fmt.Fprintf(&b, "service %s, risk %s, lock %s (lease %s)", pb.Service, pb.Risk, pb.Lock.Name, pb.Lock.Timeout)
	if pb.Approval != nil {
		var names []string
		for _, r := range pb.Approval.Approvers {
			names = append(names, string(r))
		}
		fmt.Fprintf(&b, ", approval by the %s within %s", strings.Join(names, " or "), pb.Approval.Expires)
	}
	b.WriteString("\n")
	if s := pb.Summary(p.Params); s != "" {
		fmt.Fprintf(&b, "parameters: %s\n", s)
	}
	fmt.Fprintf(&b, "parameter hash: %s\n", shortHash(p.Hash))
	b.WriteString("Nothing was changed: only GET/HEAD requests and read-only processes ran; everything else is shown as it would be sent.\n")
	section := ""
	for i, s := range p.Steps {
		if s.Section != section {
			section = s.Section
			fmt.Fprintf(&b, "\n%s:\n", section)
		}
		tag := "planned"
		if s.Ran {
			tag = "ran"
		}
		fmt.Fprintf(&b, "  %d. %s [%s, %s]\n", i+1, s.ID, s.Kind, tag)
		if s.What != "" {
			b.WriteString(indent(s.What, "     "))
		}
		for _, c := range s.Changes {
			if s.Section == "rollback" {
				fmt.Fprintf(&b, "     restores: %s = %s (captured before the change)\n", c.Field, c.New)
				continue
			}
			if c.Old == c.New {
				fmt.Fprintf(&b, "     no change: %s is already %s (this step changes nothing)\n", c.Field, c.New)
				continue
			}
			fmt.Fprintf(&b, "     change: %s %s → %s\n", c.Field, c.Old, c.New)
		}
		if s.Result != "" {
			b.WriteString(indent("→ "+s.Result, "     "))
		}
		if s.Error != "" {
			b.WriteString(indent("ERROR: "+s.Error, "     "))
		}
	}
	return b.String()
}

// RunPlan is the plan as a run request records it for the approvers
// (nil for a nil plan).
func (p *Plan) RunPlan() *incident.RunPlan {
	if p == nil {
		return nil
	}
	out := &incident.RunPlan{Title: p.Playbook.Title, Risk: string(p.Playbook.Risk), At: p.At}
	for _, s := range p.Steps {
		out.Steps = append(out.Steps, incident.PlanStep{Section: s.Section, ID: s.ID, Kind: string(s.Kind), What: s.What})
		if s.Section == "steps" {
			for _, c := range s.Changes {
				out.Changes = append(out.Changes, incident.PlanChange{Step: s.ID, Field: c.Field, Old: c.Old, New: c.New})
			}
		}
		if s.Error != "" && out.Error == "" {
			out.Error = s.ID + ": " + s.Error
		}
	}
	return out
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
