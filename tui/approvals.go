package tui

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// approvals are the runs awaiting an approval this person may give now,
// oldest first. The requester never sees their own run here (no
// self-approval), nor does anyone who does not hold an approver role.
func (m *Model) approvals() []*incident.Run {
	r := m.runner()
	if r == nil || m.st == nil {
		return nil
	}
	var out []*incident.Run
	for id, run := range m.st.Runs {
		if run.State != incident.RunAwaitingApproval {
			continue
		}
		if err := m.st.MayApprove(m.roster, m.me, id, r, m.now); err == nil || m.blockedByLock(id) {
			out = append(out, run)
		}
	}
	sort.Slice(out, func(i, j int) bool { return runSeq(out[i].ID) < runSeq(out[j].ID) })
	return out
}

// blockedByLock reports a run this person could approve once its lock is
// free: the approval waits on it, but the person should still see it.
func (m *Model) blockedByLock(id string) bool {
	r := m.st.Runs[id]
	if r == nil || m.me == r.Actor {
		return false
	}
	rn := m.runner()
	if m.st.LockHolder(incident.RunLock(r, rn), rn) == nil {
		return false
	}
	p, _ := rn.RunPolicy(r.Playbook)
	for _, role := range p.Approvers {
		if h := m.st.Roles.Holder(role, ""); h != "" && h == m.me {
			return true
		}
	}
	return false
}

func runSeq(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "R"))
	return n
}

// runParams is a run's parameters, "k=v k=v", in the form's order.
func (m *Model) runParams(run *incident.Run) string {
	var order []string
	if r := m.runner(); r != nil {
		if fields, ok := r.PlaybookForm(run.Playbook); ok {
			for _, f := range fields {
				order = append(order, f.Name)
			}
		}
	}
	seen := map[string]bool{}
	var parts []string
	for _, k := range order {
		if v, ok := run.Params[k]; ok {
			parts = append(parts, k+"="+v)
			seen[k] = true
		}
	}
	var rest []string
	for k := range run.Params {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, k+"="+run.Params[k])
	}
	return textsafe.Line(strings.Join(parts, " "))
}

// approvalBanner is the line that tells an approver a run waits for them
// ("" when none does). It goes under the tabs on every view, like the
// command-offer banner.
func (m *Model) approvalBanner(w int) string {
	runs := m.approvals()
	if len(runs) == 0 {
		return m.commsBanner(w)
	}
	run := runs[0]
	text := " ⚠ " + run.ID + " " + run.Playbook
	if p := m.runParams(run); p != "" {
		text += " (" + p + ")"
	}
	text += " requested by " + run.Actor + " awaits your approval — press A"
	if n := len(m.st.Contenders(run, m.runner())); n > 0 {
		text += " (" + itoa(n+1) + " requests want lock " + incident.RunLock(run, m.runner()) + ": pick one)"
	} else if len(runs) > 1 {
		text += " (+" + itoa(len(runs)-1) + " more)"
	}
	return m.sty.BannerMine.S(fit(text, w))
}

// approvalFirst reports whether A means "review the approval" rather than
// "accept the command offer": an offer made to this person wins.
func (m *Model) approvalFirst() bool {
	if m.st == nil || len(m.approvals()) == 0 {
		return false
	}
	o := m.st.Roles.Offer
	return o == nil || o.To != m.me
}

// approvalDialog shows a run awaiting approval with everything the
// requester saw (risk, steps, their dry run's old → new) and the values
// as they are now (a fresh read-only dry run), beside every other request
// for the same lock: the approver picks one, y approves it with the hash
// shown, r rejects it with a reason.
type approvalDialog struct {
	ids       []string // the run and its rivals for the lock, oldest first
	cur       int      // the one shown
	reasoning bool     // typing the rejection reason
	reason    lineInput
	busy      string
	top       int
	now       map[string]*freshPlan // by run id
}

// freshPlan is a dry run taken when the approver looks: the values now.
type freshPlan struct {
	plan *incident.RunPlan
	err  string
	done bool
}

func (m *Model) openApproval(id string) tea.Cmd {
	runs := m.approvals()
	var run *incident.Run
	for _, r := range runs {
		if r.ID == id || (id == "" && run == nil) {
			run = r
		}
	}
	if run == nil {
		if r := m.st.Runs[id]; id != "" && r != nil && r.State == incident.RunAwaitingApproval {
			return m.refuse(m.mayApprove(id))
		}
		if id != "" {
			return m.refuse(roles.Refuse("%s is not awaiting approval", id))
		}
		return m.refuse(roles.Refuse("no playbook run awaits your approval"))
	}
	d := &approvalDialog{reason: m.newTextInput("reason> "), now: map[string]*freshPlan{}}
	d.reason.CharLimit = 500
	d.ids = []string{run.ID}
	for _, o := range m.st.Contenders(run, m.runner()) {
		d.ids = append(d.ids, o.ID)
	}
	slices.SortFunc(d.ids, func(a, b string) int { return runSeq(a) - runSeq(b) })
	d.cur = slices.Index(d.ids, run.ID)
	m.openDialog(d)
	return d.refresh(m)
}

// shown is the run on screen, live from the state.
func (d *approvalDialog) shown(m *Model) *incident.Run { return m.st.Runs[d.ids[d.cur]] }

// refresh reads the current values for the shown run (a read-only dry
// run, in a Cmd), once.
func (d *approvalDialog) refresh(m *Model) tea.Cmd {
	run := d.shown(m)
	r := m.runner()
	if run == nil || r == nil || d.now[run.ID] != nil {
		return nil
	}
	fp := &freshPlan{}
	d.now[run.ID] = fp
	ctx, name, params := m.ctx, run.Playbook, run.Params
	return func() tea.Msg {
		plan, err := r.DryRunPlaybook(ctx, name, params)
		return laterMsg(func(m *Model) tea.Cmd {
			fp.done = true
			switch {
			case err != nil:
				fp.err = reasonOf(err)
			case plan != nil:
				fp.plan = plan.Plan
			}
			m.invalidate()
			return nil
		})
	}
}

func (d *approvalDialog) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	s := msg.String()
	if s == "esc" {
		m.closeOverlay()
		return nil
	}
	if d.busy != "" {
		return nil
	}
	if d.reasoning {
		if s == "enter" {
			return d.decide(m, false, strings.TrimSpace(d.reason.Value()))
		}
		d.reason.Update(msg)
		return nil
	}
	switch s {
	case "y", "Y":
		return d.decide(m, true, "")
	case "r", "R":
		d.reasoning = true
	case "left", "h", "shift+tab":
		d.cur, d.top = (d.cur-1+len(d.ids))%len(d.ids), 0
		return d.refresh(m)
	case "right", "l", "tab":
		d.cur, d.top = (d.cur+1)%len(d.ids), 0
		return d.refresh(m)
	case "up", "k":
		d.top = max(d.top-1, 0)
	case "down", "j":
		d.top++
	case "pgdown", "space":
		d.top += 8
	case "pgup":
		d.top = max(d.top-8, 0)
	}
	return nil
}

func (d *approvalDialog) paste(m *Model, msg tea.PasteMsg) {
	if d.reasoning {
		d.reason.Update(msg)
	}
}

// decide approves (with the run's hash, the one shown) or rejects in a Cmd.
func (d *approvalDialog) decide(m *Model, approve bool, reason string) tea.Cmd {
	run := d.shown(m)
	if run == nil {
		return nil
	}
	if approve {
		if err := m.mayApprove(run.ID); err != nil {
			return m.refuse(err)
		}
	}
	r, ctx, me, id, hash, pb := m.runner(), m.ctx, m.me, run.ID, run.Hash, run.Playbook
	label := "approve " + id
	d.busy = "approving…"
	if !approve {
		label = "reject " + id
		d.busy = "rejecting…"
	}
	m.pending++
	return func() tea.Msg {
		var err error
		if approve {
			err = r.ApproveRun(ctx, me, id, hash)
		} else {
			err = r.RejectRun(ctx, me, id, reason)
		}
		return replyMsg{label: label, err: err, then: func(m *Model) tea.Cmd {
			if m.dialogOpen(d) {
				m.closeOverlay()
			}
			var ref *roles.Refusal
			switch {
			case errors.As(err, &ref):
				m.setToast(toastError, "refused: "+ref.Reason)
			case err != nil:
				m.setToast(toastError, label+" failed: "+err.Error())
			case approve:
				m.setToast(toastOK, "✓ approved "+id+" "+pb)
			default:
				m.setToast(toastOK, "✓ rejected "+id+" "+pb)
			}
			return nil
		}}
	}
}

func (d *approvalDialog) render(m *Model, w, h int) []string {
	s := m.sty
	bw := clamp(w-4, 24, 110)
	inner := bw - 4
	run := d.shown(m)
	if run == nil {
		return m.dialogBox("Approve run?", "esc close", []string{s.Muted.S("the run is gone")}, bw)
	}
	b := &recordBuilder{m: m, w: inner}
	title := run.Playbook
	if run.Plan != nil && run.Plan.Title != "" {
		title += ": " + run.Plan.Title
	}
	head := s.Bold.S(textsafe.Line(title))
	if run.Plan != nil && run.Plan.Risk != "" {
		head += "  " + m.riskBadge(run.Plan.Risk)
	}
	b.add(head)
	if len(d.ids) > 1 {
		var tabs []string
		for i, id := range d.ids {
			o := m.st.Runs[id]
			t := id + " by " + o.Actor + " (" + m.runParams(o) + ")"
			if o.State != incident.RunAwaitingApproval {
				t += " " + o.State.Words()
			}
			if i == d.cur {
				t = s.Selected.S("▶ " + t)
			} else {
				t = s.Muted.S("  " + t)
			}
			tabs = append(tabs, t)
		}
		for _, l := range wrapLines("⚠ "+itoa(len(d.ids))+" requests want lock "+incident.RunLock(run, m.runner())+": approving one supersedes the others (←→ compare)", inner, 0) {
			b.add(s.Level[sevWarn].S(l))
		}
		for _, t := range tabs {
			b.add(" " + t)
		}
	}
	b.blank()
	if run.State != incident.RunAwaitingApproval {
		b.add(s.ToastError.S(run.ID + " is " + run.State.Words() + ": nothing to approve"))
	}
	b.field("run", run.ID+" requested by "+m.person(run.Actor)+" "+incident.Age(m.now.Sub(run.Started))+" ago")
	if left, what := m.runLeft(run); what != "" {
		b.field("expires", leftText(left)+" "+what)
	}
	b.field("parameters", nameOr(m.runParams(run), "(none)")+"  (hash "+shortHashText(run.Hash)+")")
	lock := incident.RunLock(run, m.runner())
	if h := m.st.LockHolder(lock, m.runner()); h != nil {
		b.field("lock", lock+": held by "+h.ID+" ("+h.State.Words()+"); approve once it is over")
	} else {
		b.field("lock", lock+": free; taken when approved")
	}
	d.changes(m, b, run)
	if run.Plan != nil && len(run.Plan.Steps) > 0 {
		b.heading("Steps")
		b.steps(run.Plan.Steps)
	}
	lines := b.lines
	foot := "y approve · r reject · ↑↓ scroll · esc close"
	if len(d.ids) > 1 {
		foot = "y approve · r reject · ←→ other request · ↑↓ scroll · esc close"
	}
	tail := []string{""}
	switch {
	case d.busy != "":
		tail = append(tail, s.Muted.S(d.busy))
	case d.reasoning:
		d.reason.SetWidth(max(inner-10, 5))
		tail = append(tail, d.reason.View())
		foot = "enter reject · esc close"
	case m.mayApprove(run.ID) != nil && run.State == incident.RunAwaitingApproval:
		tail = append(tail, s.Disabled.S("✗ "+reasonOf(m.mayApprove(run.ID))))
	default:
		tail = append(tail, s.Muted.S("Approving runs it with exactly these parameters (hash "+shortHashText(run.Hash)+")."))
	}
	rows := max(h-2-len(tail), 1)
	top := clamp(d.top, 0, max(len(lines)-rows, 0))
	d.top = top
	if len(lines) > rows {
		foot = itoa(top+1) + "-" + itoa(min(top+rows, len(lines))) + "/" + itoa(len(lines)) + " · " + foot
		lines = lines[top : top+rows]
	}
	return m.dialogBox("Approve run "+run.ID+"?", foot, append(lines, tail...), bw)
}

// changes shows the requester's dry run, old → new, beside the values
// read now; a change to the value already there is flagged.
func (d *approvalDialog) changes(m *Model, b *recordBuilder, run *incident.Run) {
	s := m.sty
	p := run.Plan
	if p == nil {
		b.heading("Changes")
		b.add(" " + s.Muted.S("the request carries no dry run (made before requests recorded one)"))
		return
	}
	b.heading("Changes: the requester's dry run at " + p.At.In(m.loc).Format("15:04:05") + ", and now")
	fresh := d.now[run.ID]
	nowOf := func(c incident.PlanChange) string {
		switch {
		case fresh == nil || !fresh.done:
			return s.Muted.S("now: reading…")
		case fresh.err != "":
			return s.ToastError.S("now: cannot read (" + textsafe.Line(fresh.err) + ")")
		case fresh.plan == nil:
			return ""
		}
		for _, fc := range fresh.plan.Changes {
			if fc.Step == c.Step && fc.Field == c.Field {
				switch {
				case fc.Old == c.New:
					return s.Level[sevWarn].S("now: already " + textsafe.Line(fc.Old) + " (no change)")
				case fc.Old != c.Old:
					return s.Level[sevWarn].S("now: " + textsafe.Line(fc.Old) + " (changed since the request)")
				}
				return s.Muted.S("now: " + textsafe.Line(fc.Old) + " (as seen)")
			}
		}
		return s.Muted.S("now: not read")
	}
	if len(p.Changes) == 0 {
		b.add(" " + s.Muted.S("no value changes were planned (the steps below run as shown)"))
	}
	for _, c := range p.Changes {
		line := textsafe.Line(c.Field + ": " + c.Old + " → " + c.New)
		if c.NoOp() {
			line = s.Level[sevWarn].S(line + " (no change)")
		} else {
			line = s.Accent.S(line)
		}
		b.add(" " + line + "   " + nowOf(c))
	}
	if p.Error != "" {
		b.add(" " + s.ToastError.S("dry run error: "+textsafe.Line(p.Error)))
	}
}

// riskBadge is a playbook's risk as a badge coloured by severity.
func (m *Model) riskBadge(risk string) string {
	v := sevOK
	switch risk {
	case "medium":
		v = sevWarn
	case "high", "critical":
		v = sevCrit
	}
	return m.sty.badgeText(v, "risk "+strings.ToUpper(risk))
}

func shortHashText(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
