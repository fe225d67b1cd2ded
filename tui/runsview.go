package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// runOrder ranks a run for the Runs view: what needs a person first, then
// what is executing, then what waits, then what is over (newest first).
func (m *Model) runOrder(r *incident.Run) int {
	switch r.State {
	case incident.RunInterrupted, incident.RunAwaitingDecision:
		return 0
	case incident.RunAwaitingApproval:
		if m.mayApprove(r.ID) == nil {
			return 0
		}
		return 2
	case incident.RunRunning, incident.RunVerifying, incident.RunRollingBack, incident.RunCancelling, incident.RunApproved, incident.RunRequested, incident.RunFailed:
		return 1
	}
	return 3
}

// runRows are the runs in the Runs view's order, filtered by `/`.
func (m *Model) runRows() []*incident.Run {
	if m.st == nil {
		return nil
	}
	out := make([]*incident.Run, 0, len(m.st.Runs))
	for _, r := range m.st.Runs {
		if m.runsF.active() && !m.runsF.match(r.ID+" "+r.Playbook+" "+r.Service+" "+m.serviceName(r.Service)+" "+r.State.Words()+" "+r.Actor+" "+r.Approver+" "+incident.RunLock(r, m.runner())) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *incident.Run) int {
		if oa, ob := m.runOrder(a), m.runOrder(b); oa != ob {
			return oa - ob
		}
		if m.runOrder(a) == 3 {
			return runSeq(b.ID) - runSeq(a.ID) // finished: newest first
		}
		return runSeq(a.ID) - runSeq(b.ID)
	})
	return out
}

func runIDs(rows []*incident.Run) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func (m *Model) selectedRun() *incident.Run {
	rows := m.runRows()
	if i := m.runCur.at(runIDs(rows)); i >= 0 {
		return rows[i]
	}
	return nil
}

func (m *Model) selectedRunID() string {
	if r := m.selectedRun(); r != nil {
		return r.ID
	}
	return ""
}

func (m *Model) mayApprove(id string) error {
	r := m.runner()
	if r == nil || m.st == nil {
		return roles.Refuse("this dashboard has no playbook catalog")
	}
	return m.st.MayApprove(m.roster, m.me, id, r, m.now)
}

// runPolicy is the run's playbook policy (zero if unknown).
func (m *Model) runPolicy(r *incident.Run) incident.RunPolicy {
	if rn := m.runner(); rn != nil {
		if p, ok := rn.RunPolicy(r.Playbook); ok {
			return p
		}
	}
	return incident.RunPolicy{}
}

// runStep is "step 2/3 apply", "verify 1/1 latency", or "".
func runStep(r *incident.Run) string {
	if r.Step == "" {
		return ""
	}
	what := "step"
	switch r.State {
	case incident.RunVerifying:
		what = "verify"
	case incident.RunRollingBack, incident.RunRolledBack, incident.RunRollbackFailed:
		what = "rollback"
	}
	if r.Of > 0 {
		return fmt.Sprintf("%s %d/%d %s", what, r.Index, r.Of, r.Step)
	}
	return what + " " + r.Step
}

// runLeft is how long the run has before its current deadline, and what
// that deadline is ("" when it has none).
func (m *Model) runLeft(r *incident.Run) (time.Duration, string) {
	p := m.runPolicy(r)
	switch r.State {
	case incident.RunAwaitingApproval:
		if p.ApprovalTimeout > 0 {
			return r.Started.Add(p.ApprovalTimeout).Sub(m.now), "to approve"
		}
	case incident.RunApproved:
		if p.ApprovalTimeout > 0 && !r.Locked.IsZero() {
			return r.Locked.Add(p.ApprovalTimeout).Sub(m.now), "to start"
		}
	case incident.RunRunning, incident.RunVerifying, incident.RunRollingBack, incident.RunCancelling:
		if p.LockTimeout > 0 && !r.Locked.IsZero() {
			return r.Locked.Add(p.LockTimeout).Sub(m.now), "of its lease"
		}
	}
	return 0, ""
}

// approvers says who may approve a waiting run: "rosa (commander) or dev
// (deputy)", never the requester.
func (m *Model) approvers(r *incident.Run) string {
	p := m.runPolicy(r)
	if len(p.Approvers) == 0 {
		return "no approval needed"
	}
	var who []string
	for _, role := range p.Approvers {
		h := m.st.Roles.Holder(role, "")
		switch {
		case h == "":
			who = append(who, "no "+string(role))
		case h == r.Actor:
			who = append(who, "not "+h+" ("+string(role)+", the requester)")
		default:
			who = append(who, h+" ("+string(role)+")")
		}
	}
	return strings.Join(who, " or ")
}

// approverNames is approvers without the roles: "rosa or dev".
func (m *Model) approverNames(r *incident.Run) string {
	var who []string
	for _, role := range m.runPolicy(r).Approvers {
		if h := m.st.Roles.Holder(role, ""); h != "" && h != r.Actor && !slices.Contains(who, h) {
			who = append(who, h)
		}
	}
	if len(who) == 0 {
		return "nobody can"
	}
	return strings.Join(who, " or ")
}

// runSummaryLine is one run in a line: for panes, the detail view and the
// Runs view's footer.
func (m *Model) runSummaryLine(r *incident.Run) string {
	t := r.ID + " " + r.Playbook + " " + r.State.Words()
	if st := runStep(r); st != "" && !incident.RunTerminal(r.State) {
		t += " · " + st
	}
	t += " · " + incident.Age(m.now.Sub(r.StateSince))
	if left, what := m.runLeft(r); what != "" {
		t += " · " + leftText(left) + " " + what
	}
	return t
}

// runPaneLine is a run in a pane's few columns: "R12 waf-mode step 2/3
// apply · 14m left", or its state when it has no step.
func (m *Model) runPaneLine(r *incident.Run) string {
	t := r.ID + " " + r.Playbook + " "
	if st := runStep(r); st != "" && r.State != incident.RunInterrupted {
		t += st
	} else {
		t += r.State.Words()
	}
	if left, what := m.runLeft(r); what != "" {
		t += " · " + leftText(left)
	}
	return t
}

func leftText(d time.Duration) string {
	if d <= 0 {
		return "none left"
	}
	return incident.Age(d) + " left"
}

// runPaint colours a run's state.
func (m *Model) runPaint(state incident.RunState) paint {
	s := m.sty
	switch state {
	case incident.RunSucceeded, incident.RunRolledBack:
		return s.Level[sevOK]
	case incident.RunFailed, incident.RunRollbackFailed, incident.RunInterrupted, incident.RunAwaitingDecision:
		return s.Level[sevCrit]
	case incident.RunAwaitingApproval, incident.RunCancelling:
		return s.Level[sevWarn]
	case incident.RunRunning, incident.RunVerifying, incident.RunRollingBack, incident.RunApproved:
		return s.Accent
	}
	return s.Muted
}

// activeRuns are the runs of a service that are not over, oldest first.
func (m *Model) activeRuns(service string) []*incident.Run {
	var out []*incident.Run
	for _, r := range m.viewState().Runs {
		if r.Service == service && !incident.RunTerminal(r.State) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *incident.Run) int { return runSeq(a.ID) - runSeq(b.ID) })
	return out
}

func (m *Model) renderRuns(w, h int) []string {
	s := m.sty
	rows := m.runRows()
	b := newBlock(w)
	title := s.Bold.S("Runs") + s.Muted.S(" ("+itoa(len(m.st.Runs))+") · needing you first, then executing, waiting, over")
	if m.runsF.active() {
		title = s.Bold.S("Runs") + s.Muted.S(" · filter ") + s.Key.S(textsafe.Line(m.runsF.q)) + s.Muted.S(" ("+itoa(len(rows))+" of "+itoa(len(m.st.Runs))+") · esc clears")
	}
	b.add(spread(title, s.Muted.S("A approve · c cancel · x resolve · enter details"), w))
	if len(rows) == 0 {
		b.add("")
		switch {
		case m.runner() == nil:
			b.add("  " + s.Muted.S("no playbook catalog in this dashboard"))
		case len(m.st.Runs) > 0:
			b.add("  " + s.Muted.S("no run matches the filter"))
		default:
			b.add("  " + s.Muted.S("no playbook runs yet: ctrl+p and type the playbook's name to request one"))
		}
		return b.render(h)
	}
	// Columns sized from the content.
	type cells struct{ id, pb, svc, state, step, in, left, req, appr, lock string }
	cs := make([]cells, len(rows))
	wd := cells{"ID", "PLAYBOOK", "SERVICE", "STATE", "STEP", "IN STATE", "LEFT", "BY", "APPROVAL", "LOCK"}
	widths := map[string]int{}
	upd := func(k, v string) { widths[k] = max(widths[k], width(v)) }
	for i, r := range rows {
		c := cells{id: r.ID, pb: r.Playbook, svc: m.serviceName(r.Service), state: r.State.Words(), in: incident.Age(m.now.Sub(r.StateSince)), req: r.Actor, lock: incident.RunLock(r, m.runner())}
		if !incident.RunTerminal(r.State) {
			c.step = runStep(r)
			if left, what := m.runLeft(r); what != "" {
				c.left = leftText(left)
			}
		}
		switch {
		case r.Approver != "":
			c.appr = "by " + r.Approver
		case r.State == incident.RunAwaitingApproval:
			c.appr = m.approverNames(r)
		case len(m.runPolicy(r).Approvers) == 0:
			c.appr = "none needed"
		}
		if incident.RunHoldsLock(r.State) {
			c.lock += " (held)"
		}
		cs[i] = c
	}
	for _, c := range append(cs, wd) {
		upd("id", c.id)
		upd("pb", c.pb)
		upd("svc", c.svc)
		upd("state", c.state)
		upd("step", c.step)
		upd("in", c.in)
		upd("left", c.left)
		upd("req", c.req)
		upd("appr", c.appr)
		upd("lock", c.lock)
	}
	// Drop columns from the right end of importance until it fits.
	order := []string{"id", "pb", "state", "left", "step", "req", "appr", "in", "svc", "lock"}
	keep := map[string]bool{}
	used := 2
	for _, k := range order {
		cw := widths[k]
		switch k {
		case "appr", "step", "lock":
			cw = min(cw, max(28, w/5))
		case "pb":
			cw = min(cw, max(w/5, 16))
		}
		if used+cw+1 > w && k != "id" && k != "pb" && k != "state" {
			continue
		}
		widths[k] = cw
		keep[k] = true
		used += cw + 1
	}
	cols := []string{"id", "pb", "svc", "state", "step", "in", "left", "req", "appr", "lock"}
	row := func(c cells, paintState paint) string {
		vals := map[string]string{"id": c.id, "pb": c.pb, "svc": c.svc, "state": paintState.S(c.state), "step": c.step, "in": c.in, "left": c.left, "req": c.req, "appr": c.appr, "lock": c.lock}
		var sb strings.Builder
		sb.WriteString("  ")
		for _, k := range cols {
			if keep[k] {
				sb.WriteString(fit(vals[k], widths[k]) + " ")
			}
		}
		return sb.String()
	}
	b.add(s.Muted.S(row(wd, s.Muted)))
	ids := runIDs(rows)
	vis := h - 4
	sel := m.runCur.at(ids)
	top := m.runCur.view(ids, vis)
	for i := top; i < len(rows) && i < top+vis; i++ {
		line := row(cs[i], m.runPaint(rows[i].State))
		if i == sel {
			line = s.selectLine(line, w)
		}
		b.add(line)
	}
	lines := b.render(h - 2)
	r := rows[sel]
	return append(lines, fit(s.Text.S(textsafe.Line(m.runSummaryLine(r))), w), fit(m.runActions(r, w), w))
}

// runActions says what this person can do with the selected run, and why
// not.
func (m *Model) runActions(r *incident.Run, w int) string {
	s := m.sty
	var parts []seg
	add := func(keyText, what string, err error) {
		if err != nil {
			parts = append(parts, seg{s.Disabled.S("✗ " + keyText + " " + what + ": " + reasonOf(err)), 10})
			return
		}
		parts = append(parts, seg{s.Key.S(keyText) + s.Muted.S(" "+what), 10})
	}
	switch r.State {
	case incident.RunAwaitingApproval:
		add("A", "approve or reject", m.mayApprove(r.ID))
		add("c", "cancel", m.mayCancel(r))
	case incident.RunInterrupted, incident.RunAwaitingDecision:
		add("x", "resolve (verify, rollback or abandon)", m.mayResolve(r))
	default:
		if incident.RunTerminal(r.State) {
			parts = append(parts, seg{s.Muted.S(r.ID + " is over (" + r.State.Words() + ")"), 10})
		} else {
			add("c", "cancel", m.mayCancel(r))
		}
	}
	parts = append(parts, seg{s.Key.S("enter") + s.Muted.S(" details"), 5})
	if jp := m.o.JournalPath; jp != "" && r.State == incident.RunAwaitingApproval {
		parts = append(parts, seg{s.Muted.S("or: warroom playbook approve " + r.ID + " --journal " + jp), 1})
	}
	return bar(parts, s.Muted.S(" · "), w)
}

// mayCancel mirrors the engine: the requester, the commander or the deputy.
func (m *Model) mayCancel(r *incident.Run) error {
	if _, ok := m.roster.Get(m.me); !ok {
		return roles.Refuse("%q is not on the roster", m.me)
	}
	switch r.State {
	case incident.RunInterrupted, incident.RunAwaitingDecision:
		return roles.Refuse("%s is %s: the commander resolves it (x)", r.ID, r.State.Words())
	case incident.RunCancelling:
		return roles.Refuse("%s is already being cancelled", r.ID)
	}
	if incident.RunTerminal(r.State) {
		return roles.Refuse("%s is already over (%s)", r.ID, r.State.Words())
	}
	if m.me != r.Actor && m.me != m.st.Roles.Commander && (m.me != m.st.Roles.Deputy || m.me == "") {
		return roles.Refuse("only its requester (%s), the commander or the deputy can cancel %s", r.Actor, r.ID)
	}
	return nil
}

// mayResolve mirrors the engine: only the commander, only a run that was
// interrupted or awaits a decision.
func (m *Model) mayResolve(r *incident.Run) error {
	if m.me != m.st.Roles.Commander {
		return roles.Refuse("only the commander (%s) decides what happens to %s", nameOr(m.st.Roles.Commander, "nobody"), r.ID)
	}
	if r.State != incident.RunInterrupted && r.State != incident.RunAwaitingDecision {
		return roles.Refuse("%s is %s: only an interrupted run or one awaiting a decision is resolved", r.ID, r.State.Words())
	}
	return nil
}

func (m *Model) runsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	rows := m.runRows()
	ids := runIDs(rows)
	if m.moveCursor(msg, &m.runCur, ids) {
		return nil
	}
	if key.Matches(msg, k.Back) && m.runsF.active() {
		m.runsF.set("")
		return nil
	}
	r := m.selectedRun()
	if r == nil {
		if key.Matches(msg, k.Cancel, k.Resolve, k.Open) {
			return m.refuse(errors.New("there are no runs"))
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Open):
		m.openRecord(record{kind: recRun, id: r.ID})
	case key.Matches(msg, k.Cancel):
		return m.cancelRun(r)
	case key.Matches(msg, k.Resolve):
		return m.resolveRun(r)
	}
	return nil
}

// RunController is optionally implemented by a PlaybookRunner to cancel
// runs and resolve interrupted ones from the dashboard. Both do I/O and
// are called in tea.Cmds only.
type RunController interface {
	CancelRun(ctx context.Context, by, runID, reason string) error
	ResolveRun(ctx context.Context, by, runID string, choice incident.ResolveChoice, reason string) error
}

func (m *Model) controller() RunController {
	c, _ := m.o.Playbooks.(RunController)
	return c
}

// cancelRun asks first: cancelling a run that is applying rolls it back.
func (m *Model) cancelRun(r *incident.Run) tea.Cmd {
	if err := m.mayCancel(r); err != nil {
		return m.refuse(err)
	}
	c := m.controller()
	if c == nil {
		return m.refuse(errors.New("this dashboard cannot cancel runs"))
	}
	id, what := r.ID, r.ID+" "+r.Playbook
	q := "Cancel " + what + " (" + r.State.Words() + ")?"
	if incident.RunHoldsLock(r.State) && r.State != incident.RunApproved {
		q = "Cancel " + what + " while " + r.State.Words() + "? A step in progress is stopped and, if something may have changed, the rollback runs."
	}
	m.confirm(q, func(m *Model) tea.Cmd {
		ctx, me := m.ctx, m.me
		m.pending++
		m.setToast(toastInfo, "sending: cancel "+id+"…")
		return func() tea.Msg {
			return replyMsg{label: "cancel " + id, err: c.CancelRun(ctx, me, id, "cancelled from the dashboard")}
		}
	})
	return nil
}

// resolveRun lets the commander choose verify, rollback or abandon.
func (m *Model) resolveRun(r *incident.Run) tea.Cmd {
	if err := m.mayResolve(r); err != nil {
		return m.refuse(err)
	}
	c := m.controller()
	if c == nil {
		return m.refuse(errors.New("this dashboard cannot resolve runs"))
	}
	id := r.ID
	why := "it was interrupted while " + runStep(r) + ": the outcome is unknown"
	if r.State == incident.RunAwaitingDecision {
		why = "it failed at " + r.Step + ": " + textsafe.Line(r.Error)
	}
	items := []choice{
		{label: "verify — run its verify steps again", value: string(incident.ResolveVerify)},
		{label: "rollback — restore the values it captured before the change", value: string(incident.ResolveRollback)},
		{label: "abandon — release its lock and do nothing more", value: string(incident.ResolveAbandon)},
	}
	m.openChooser("Resolve "+id+" "+r.Playbook+" ("+why+")", items, func(m *Model, ch choice) tea.Cmd {
		ctx, me, choice := m.ctx, m.me, incident.ResolveChoice(ch.value)
		m.pending++
		m.setToast(toastInfo, "sending: "+ch.value+" "+id+"…")
		return func() tea.Msg {
			return replyMsg{label: string(choice) + " " + id, err: c.ResolveRun(ctx, me, id, choice, "resolved from the dashboard")}
		}
	})
	return nil
}
