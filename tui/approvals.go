package tui

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
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
		if m.st.MayApprove(m.roster, m.me, id, r, m.now) == nil {
			out = append(out, run)
		}
	}
	sort.Slice(out, func(i, j int) bool { return runSeq(out[i].ID) < runSeq(out[j].ID) })
	return out
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
	return strings.Join(parts, " ")
}

// approvalBanner is the line that tells an approver a run waits for them
// ("" when none does). It goes under the tabs on every view, like the
// command-offer banner.
func (m *Model) approvalBanner(w int) string {
	runs := m.approvals()
	if len(runs) == 0 {
		return ""
	}
	run := runs[0]
	text := " ⚠ " + run.ID + " " + run.Playbook
	if p := m.runParams(run); p != "" {
		text += " (" + p + ")"
	}
	text += " requested by " + run.Actor + " awaits your approval — press A"
	if len(runs) > 1 {
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

// approvalDialog shows one run awaiting approval: y approves it with the
// hash shown, r rejects it with an optional reason.
type approvalDialog struct {
	run       incident.Run // a copy: the one reviewed
	expires   time.Time
	reasoning bool // typing the rejection reason
	reason    lineInput
	busy      string
}

func (m *Model) openApproval(id string) tea.Cmd {
	runs := m.approvals()
	if len(runs) == 0 {
		return m.refuse(roles.Refuse("no playbook run awaits your approval"))
	}
	run := *runs[0]
	for _, r := range runs {
		if r.ID == id {
			run = *r
		}
	}
	d := &approvalDialog{run: run, reason: m.newTextInput("reason> ")}
	d.reason.CharLimit = 500
	if p, ok := m.runner().RunPolicy(run.Playbook); ok && p.ApprovalTimeout > 0 {
		d.expires = run.Started.Add(p.ApprovalTimeout)
	}
	m.openDialog(d)
	return nil
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
	r, ctx, me, id, hash := m.runner(), m.ctx, m.me, d.run.ID, d.run.Hash
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
				m.setToast(toastOK, "✓ approved "+id+" "+d.run.Playbook)
			default:
				m.setToast(toastOK, "✓ rejected "+id+" "+d.run.Playbook)
			}
			return nil
		}}
	}
}

func (d *approvalDialog) render(m *Model, w, h int) []string {
	s := m.sty
	bw := clamp(w-4, 24, 90)
	inner := bw - 4
	run := &d.run
	row := func(k, v string) string { return s.Muted.S(fit(k, 11)) + " " + s.Text.S(trunc(v, max(inner-12, 1))) }
	var c []string
	c = append(c, s.Bold.S(run.Playbook+" requested by "+run.Actor+" awaits your approval"))
	c = append(c, "")
	c = append(c, row("run", run.ID))
	c = append(c, row("playbook", run.Playbook))
	if run.Service != "" {
		c = append(c, row("service", m.serviceName(run.Service)))
	}
	params := m.runParams(run)
	if params == "" {
		params = "(none)"
	}
	c = append(c, row("parameters", params))
	c = append(c, row("hash", shortHashText(run.Hash)))
	c = append(c, row("requested", run.Actor+" at "+run.Started.In(m.loc).Format("15:04:05")+" ("+incident.Age(m.now.Sub(run.Started))+" ago)"))
	if !d.expires.IsZero() {
		left := d.expires.Sub(m.now)
		exp := "at " + d.expires.In(m.loc).Format("15:04:05")
		if left > 0 {
			exp += " (in " + incident.Age(left) + ")"
		} else {
			exp += " (expired)"
		}
		c = append(c, row("expires", exp))
	}
	c = append(c, "")
	foot := "y approve · r reject · esc close"
	switch {
	case d.busy != "":
		c = append(c, s.Muted.S(d.busy))
	case d.reasoning:
		d.reason.SetWidth(max(inner-10, 5))
		c = append(c, d.reason.View())
		foot = "enter reject · esc close"
	default:
		c = append(c, s.Muted.S("Approving runs it with exactly these parameters (hash "+shortHashText(run.Hash)+")."))
	}
	if len(c) > h-2 {
		c = c[:max(h-2, 1)]
	}
	return m.dialogBox("Approve run "+run.ID+"?", foot, c, bw)
}

func shortHashText(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
