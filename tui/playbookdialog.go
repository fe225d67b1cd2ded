package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// ParamField is one parameter of a playbook's form.
type ParamField struct {
	Name        string
	Type        string // int, float, enum, bool or string
	Description string
	Default     string
	HasDefault  bool     // false: a value is required
	Values      []string // enum choices, in order
	Constraint  string   // the type and bounds in words ("integer from 1 to 100")
}

// DryRunPlan is a dry run's result as the confirmation shows it.
type DryRunPlan struct {
	Text    string // the plan: old → new values and the exact requests
	Hash    string // the parameter hash the run will carry
	Summary string // "mode=block", in declaration order
	// Plan is the same dry run as data (risk, steps, changes), recorded
	// with the request for the approvers.
	Plan *incident.RunPlan
}

// PlaybookRunner is optionally implemented by a Playbooks provider to run
// playbooks from the dashboard with a parameter form, a dry run and a
// confirmation, and to approve or reject runs. RunPolicy, PlaybookForm and
// ValidatePlaybookParams are pure and may be called in Update; the others
// do I/O and are called in tea.Cmds only. A *roles.Refusal error is shown
// as a refusal.
type PlaybookRunner interface {
	incident.RunPolicies
	PlaybookForm(name string) ([]ParamField, bool)
	// ValidatePlaybookParams returns the problems by parameter name ("" for
	// problems that belong to no field); nil when the values are valid.
	ValidatePlaybookParams(name string, raw map[string]string) map[string]string
	DryRunPlaybook(ctx context.Context, name string, raw map[string]string) (*DryRunPlan, error)
	RequestPlaybookRun(ctx context.Context, by, name string, raw map[string]string, plan *DryRunPlan) (runID string, err error)
	ApproveRun(ctx context.Context, by, runID, hash string) error
	RejectRun(ctx context.Context, by, runID, reason string) error
}

// dialog is a modal that lives in the chooser overlay slot: it takes the
// keys and draws the box while it is open.
type dialog interface {
	key(m *Model, msg tea.KeyPressMsg) tea.Cmd
	paste(m *Model, msg tea.PasteMsg)
	render(m *Model, w, h int) []string
}

func (m *Model) openDialog(d dialog) {
	m.chooser = &chooser{dialog: d, input: m.newTextInput("")}
	m.overlay = overlayChooser
	m.invalidate()
}

// dialogOpen reports whether d is still the open dialog (a Cmd's result
// for a dialog the person has closed is dropped).
func (m *Model) dialogOpen(d dialog) bool {
	return m.overlay == overlayChooser && m.chooser != nil && m.chooser.dialog == d
}

func (m *Model) runner() PlaybookRunner {
	r, _ := m.o.Playbooks.(PlaybookRunner)
	return r
}

// playbookErr is why this person may not request a run of pb now (nil if
// they may): the playbook's run role and its lock, as the engine will
// decide them.
func (m *Model) playbookErr(pb Playbook) error {
	r := m.runner()
	if r == nil {
		return m.check(roles.ActRunPlaybook, pb.Service)
	}
	if m.st == nil {
		return roles.Refuse("not connected to the engine yet")
	}
	p, ok := r.RunPolicy(pb.Name)
	if !ok {
		return roles.Refuse("no playbook %q", pb.Name)
	}
	if err := m.st.MayRun(m.roster, m.me, p); err != nil {
		return err
	}
	return m.st.LockFree(p.Lock, r)
}

type formStage int

const (
	stageForm formStage = iota
	stageDryRun
	stageConfirm
	stageRequest
)

// playbookForm is the run dialog: the parameter form, then the dry run's
// plan to confirm.
type playbookForm struct {
	pb     Playbook
	fields []ParamField
	inputs []lineInput // text fields (int, float, string)
	choice []int       // enum index, bool 0/1
	focus  int
	errs   map[string]string
	stage  formStage
	plan   *DryRunPlan
	params map[string]string // the values the plan is for
	top    int               // plan scroll
	err    string            // the last dry run or request failure
}

// openPlaybookForm starts the run dialog for pb.
func (m *Model) openPlaybookForm(pb Playbook) tea.Cmd {
	r := m.runner()
	if err := m.playbookErr(pb); err != nil {
		return m.refuse(err)
	}
	fields, ok := r.PlaybookForm(pb.Name)
	if !ok {
		return m.refuse(fmt.Errorf("no playbook %q", pb.Name))
	}
	f := &playbookForm{pb: pb, fields: fields, inputs: make([]lineInput, len(fields)), choice: make([]int, len(fields))}
	for i, fl := range fields {
		switch fl.Type {
		case "enum":
			// A required choice starts empty: the person must pick it,
			// never get the first (often the weakest) value by default.
			f.choice[i] = -1
			for j, v := range fl.Values {
				if fl.HasDefault && v == fl.Default {
					f.choice[i] = j
				}
			}
		case "bool":
			if fl.Default == "true" {
				f.choice[i] = 1
			}
		default:
			f.inputs[i] = m.newTextInput("")
			f.inputs[i].CharLimit = 4096
			f.inputs[i].SetValue(fl.Default)
		}
	}
	f.validate(m)
	m.openDialog(f)
	return nil
}

// raw is the form's values as typed; an empty text field is left out so
// its default (or the "required" problem) applies.
func (f *playbookForm) raw() map[string]string {
	out := make(map[string]string, len(f.fields))
	for i, fl := range f.fields {
		switch fl.Type {
		case "enum":
			if c := f.choice[i]; c >= 0 && c < len(fl.Values) {
				out[fl.Name] = fl.Values[c]
			}
		case "bool":
			out[fl.Name] = map[bool]string{true: "true", false: "false"}[f.choice[i] == 1]
		default:
			if v := f.inputs[i].Value(); v != "" {
				out[fl.Name] = v
			}
		}
	}
	return out
}

func (f *playbookForm) validate(m *Model) {
	f.errs = m.runner().ValidatePlaybookParams(f.pb.Name, f.raw())
}

func (f *playbookForm) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	s := msg.String()
	if s == "esc" {
		m.closeOverlay()
		m.setToast(toastInfo, "run of "+f.pb.Name+" cancelled")
		return nil
	}
	switch f.stage {
	case stageDryRun, stageRequest:
		return nil // waiting; esc cancels
	case stageConfirm:
		return f.confirmKey(m, s)
	}
	n := len(f.fields)
	switch s {
	case "tab", "down", "ctrl+n":
		if n > 0 {
			f.focus = (f.focus + 1) % n
		}
		return nil
	case "shift+tab", "up", "ctrl+p":
		if n > 0 {
			f.focus = (f.focus - 1 + n) % n
		}
		return nil
	case "enter":
		f.validate(m)
		if len(f.errs) > 0 {
			f.err = ""
			return nil
		}
		return f.dryRun(m)
	}
	if n == 0 {
		return nil
	}
	fl := f.fields[f.focus]
	switch fl.Type {
	case "enum":
		if k := len(fl.Values); k > 0 {
			c := f.choice[f.focus]
			switch s {
			case "left", "h":
				if c < 0 {
					c = 0
				}
				f.choice[f.focus] = (c - 1 + k) % k
			case "right", "l", "space":
				f.choice[f.focus] = (c + 1) % k
			}
		}
	case "bool":
		switch s {
		case "left", "right", "space", "h", "l":
			f.choice[f.focus] = 1 - f.choice[f.focus]
		case "y", "t":
			f.choice[f.focus] = 1
		case "n", "f":
			f.choice[f.focus] = 0
		}
	default:
		if !f.inputs[f.focus].Update(msg) {
			return nil
		}
	}
	f.validate(m)
	return nil
}

func (f *playbookForm) paste(m *Model, msg tea.PasteMsg) {
	if f.stage != stageForm || len(f.fields) == 0 {
		return
	}
	switch f.fields[f.focus].Type {
	case "enum", "bool":
		return
	}
	if f.inputs[f.focus].Update(msg) {
		f.validate(m)
	}
}

// dryRun asks for the plan in a Cmd; nothing is requested yet.
func (f *playbookForm) dryRun(m *Model) tea.Cmd {
	r, ctx, name, raw := m.runner(), m.ctx, f.pb.Name, f.raw()
	f.stage, f.err, f.params = stageDryRun, "", raw
	m.pending++
	return func() tea.Msg {
		plan, err := r.DryRunPlaybook(ctx, name, raw)
		return replyMsg{label: "dry run of " + name, then: func(m *Model) tea.Cmd {
			if !m.dialogOpen(f) || f.stage != stageDryRun {
				return nil
			}
			if err != nil {
				f.stage, f.err = stageForm, "dry run failed: "+reasonOf(err)
				return nil
			}
			f.stage, f.plan, f.top = stageConfirm, plan, 0
			return nil
		}}
	}
}

func (f *playbookForm) confirmKey(m *Model, s string) tea.Cmd {
	lines := 4 * (strings.Count(f.plan.Text, "\n") + 1) // wrapped; the render clamps
	switch s {
	case "y", "Y", "enter":
		return f.request(m)
	case "e", "backspace":
		f.stage, f.plan = stageForm, nil
	case "down", "j":
		f.top = clamp(f.top+1, 0, lines-1)
	case "up", "k":
		f.top = clamp(f.top-1, 0, lines-1)
	case "pgdown", "space":
		f.top = clamp(f.top+8, 0, lines-1)
	case "pgup":
		f.top = clamp(f.top-8, 0, lines-1)
	}
	return nil
}

// request asks the engine for the run with the confirmed values, in a Cmd.
func (f *playbookForm) request(m *Model) tea.Cmd {
	r, ctx, me, name, params, plan := m.runner(), m.ctx, m.me, f.pb.Name, f.params, f.plan
	f.stage = stageRequest
	m.pending++
	return func() tea.Msg {
		id, err := r.RequestPlaybookRun(ctx, me, name, params, plan)
		return replyMsg{label: "request " + name, err: err, then: func(m *Model) tea.Cmd {
			if m.dialogOpen(f) {
				m.closeOverlay()
			}
			var ref *roles.Refusal
			switch {
			case errors.As(err, &ref):
				m.setToast(toastError, "refused: "+ref.Reason)
			case err != nil:
				m.setToast(toastError, "request "+name+" failed: "+err.Error())
			default:
				text := "✓ requested " + id + " " + name
				if run := m.st.Runs[id]; run != nil && run.State == incident.RunAwaitingApproval {
					text += " — awaits approval"
				} else if p, ok := r.RunPolicy(name); ok && len(p.Approvers) > 0 {
					text += " — awaits approval by the " + joinRoles(p.Approvers)
				}
				m.setToast(toastOK, text)
			}
			return nil
		}}
	}
}

func joinRoles(rs []roles.Role) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, " or ")
}

// box draws a dialog frame around content lines of inner width.
func (m *Model) dialogBox(title, foot string, content []string, bw int) []string {
	s := m.sty
	inner := bw - 4
	title = trunc(title, max(bw-6, 1))
	foot = trunc(foot, max(bw-6, 1))
	lines := []string{s.BorderFocus.S("╭─ ") + s.Title.S(title) + " " + s.BorderFocus.S(strings.Repeat("─", max(0, bw-5-width(title)))+"╮")}
	side := s.BorderFocus.S("│")
	for _, c := range content {
		lines = append(lines, side+" "+fit(c, inner)+" "+side)
	}
	lines = append(lines, s.BorderFocus.S("╰─ ")+s.Muted.S(foot)+" "+s.BorderFocus.S(strings.Repeat("─", max(0, bw-5-width(foot)))+"╯"))
	return lines
}

func (f *playbookForm) render(m *Model, w, h int) []string {
	s := m.sty
	bw := clamp(w-4, 24, 100)
	inner := bw - 4
	where := "incident"
	if f.pb.Service != "" {
		where = m.serviceName(f.pb.Service)
	}
	title := "Run playbook " + f.pb.Name + " (" + where + ")"
	var c []string
	if f.stage == stageConfirm || f.stage == stageRequest {
		c = append(c, s.Bold.S("Confirm: request this run?")+" "+s.Muted.S("parameters "+f.plan.Summary))
		c = append(c, s.Subtle.S(strings.Repeat("─", inner)))
		// The plan wraps to the dialog: an approval policy or a request
		// line is never cut where its facts are.
		var plan []string
		for _, l := range strings.Split(strings.TrimRight(f.plan.Text, "\n"), "\n") {
			l = textsafe.Line(l) // old values come from the service
			lead := len(l) - len(strings.TrimLeft(l, " "))
			for i, wl := range wrapLines(l, inner-lead-2, 0) {
				if i > 0 {
					wl = strings.Repeat(" ", lead+2) + wl
				}
				plan = append(plan, wl)
			}
		}
		rows := max(h-2-4, 1)
		top := clamp(f.top, 0, max(len(plan)-rows, 0))
		for i := top; i < len(plan) && i < top+rows; i++ {
			line := plan[i]
			switch {
			case strings.Contains(line, "no change:"):
				c = append(c, s.Level[sevWarn].S(line))
			case strings.Contains(line, "→") && strings.Contains(line, "change:"):
				c = append(c, s.Accent.S(line))
			case strings.Contains(line, "ERROR:"):
				c = append(c, s.ToastError.S(line))
			default:
				c = append(c, s.Text.S(line))
			}
		}
		c = append(c, s.Subtle.S(strings.Repeat("─", inner)))
		foot := "y/enter request run · e edit · ↑↓ scroll · esc cancel"
		if noop := f.plan.noOps(); noop != "" {
			c = append(c, s.Level[sevWarn].S("⚠ "+noop))
		}
		if f.stage == stageRequest {
			c = append(c, s.Muted.S("requesting the run…"))
		} else {
			c = append(c, s.ToastError.S("Nothing has been requested yet. y requests the run with these values."))
		}
		if len(plan) > rows {
			foot = itoa(top+1) + "-" + itoa(min(top+rows, len(plan))) + "/" + itoa(len(plan)) + " · " + foot
		}
		return m.dialogBox(title, foot, c, bw)
	}
	if f.pb.Title != "" {
		c = append(c, s.Bold.S(f.pb.Title)+s.Muted.S(summaryTail(f.pb.Summary)))
	}
	if len(f.fields) == 0 {
		c = append(c, s.Muted.S("This playbook has no parameters."))
	}
	nw := 4
	for _, fl := range f.fields {
		nw = max(nw, width(fl.Name))
	}
	nw = min(nw, inner/3)
	vw := clamp(inner-nw-4-24, 10, 30)
	for i, fl := range f.fields {
		focus := i == f.focus && f.stage == stageForm
		marker := "  "
		if focus {
			marker = s.Accent.S("▶ ")
		}
		var val string
		switch fl.Type {
		case "enum":
			c := f.choice[i]
			switch {
			case c < 0 || c >= len(fl.Values):
				val = "◀ choose ▶"
			default:
				val = "◀ " + fl.Values[c] + " ▶"
			}
			switch {
			case focus:
				val = s.Selected.S(val)
			case c < 0:
				val = s.Muted.S(val)
			default:
				val = s.Text.S(val)
			}
		case "bool":
			val = "[ ] false"
			if f.choice[i] == 1 {
				val = "[x] true"
			}
			if focus {
				val = s.Selected.S(val)
			} else {
				val = s.Text.S(val)
			}
		default:
			in := &f.inputs[i]
			if focus {
				in.SetWidth(vw - 1)
				val = in.View()
			} else {
				val = s.Text.S(trunc(in.Value(), vw))
				if in.Value() == "" {
					val = s.Muted.S("(empty)")
				}
			}
		}
		hint := fl.Constraint
		if !fl.HasDefault {
			hint = "required · " + hint
		}
		line := marker + s.Bold.S(fit(fl.Name, nw)) + "  " + fit(val, vw) + "  " + s.Muted.S(trunc(hint, max(inner-nw-vw-6, 0)))
		c = append(c, line)
		if e := f.errs[fl.Name]; e != "" {
			c = append(c, "  "+strings.Repeat(" ", nw)+"  "+s.ToastError.S("✗ "+e))
		}
	}
	if e := f.errs[""]; e != "" {
		c = append(c, s.ToastError.S("✗ "+e))
	}
	c = append(c, "")
	if len(f.fields) > 0 && f.focus < len(f.fields) {
		fl := f.fields[f.focus]
		if fl.Description != "" {
			c = append(c, s.Muted.S(fl.Name+": "+fl.Description))
		}
	}
	switch {
	case f.stage == stageDryRun:
		c = append(c, s.Muted.S("dry run… (only reads; nothing is changed)"))
	case f.err != "":
		for _, l := range wrapLines(textsafe.Line(f.err), inner, 0) {
			c = append(c, s.ToastError.S(l))
		}
	case len(f.errs) > 0:
		c = append(c, s.ToastError.S("Fix the marked values to continue."))
	default:
		c = append(c, s.Muted.S("enter shows a dry run (old → new) before anything is requested."))
	}
	if len(c) > h-2 {
		c = c[:max(h-2, 1)]
	}
	return m.dialogBox(title, "enter dry run · tab/shift+tab field · ←→ change · esc cancel", c, bw)
}

func summaryTail(s string) string {
	if s == "" {
		return ""
	}
	return " — " + s
}

// noOps warns when a plan changes nothing: every planned value is the
// one already there ("" otherwise).
func (p *DryRunPlan) noOps() string {
	if p == nil || p.Plan == nil || len(p.Plan.Changes) == 0 {
		return ""
	}
	var same []string
	for _, c := range p.Plan.Changes {
		if !c.NoOp() {
			return ""
		}
		same = append(same, c.Field+" is already "+c.New)
	}
	return "This run changes nothing: " + textsafe.Line(strings.Join(same, ", ")) + ". e edits the values."
}
