package tui

import (
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// replyMsg is the engine's answer to a command sent from this model.
type replyMsg struct {
	label string
	rep   incident.Reply
	err   error // for non-engine actions (playbook start)
	// then, if set, shows the result instead of the default toast (a
	// dialog's next step). It runs in Update and does no I/O.
	then func(m *Model) tea.Cmd
}

// laterMsg brings a Cmd's result back to Update, which applies it (no
// I/O): a dialog's background read.
type laterMsg func(m *Model) tea.Cmd

// send hands a command to the engine in a Cmd. The result comes back as
// a replyMsg; the state change itself arrives through the feed.
func (m *Model) send(label string, c incident.Command) tea.Cmd {
	eng, ctx := m.eng, m.ctx
	m.pending++
	m.setToast(toastInfo, "sending: "+label+"…")
	return func() tea.Msg { return replyMsg{label: label, rep: eng.Do(ctx, c)} }
}

func (m *Model) onReply(msg replyMsg) tea.Cmd {
	if m.pending > 0 {
		m.pending--
	}
	if msg.then != nil {
		m.invalidate()
		return msg.then(m)
	}
	err := msg.err
	if err == nil {
		err = msg.rep.Err
	}
	var ref *roles.Refusal
	switch {
	case errors.As(err, &ref):
		m.setToast(toastError, "refused: "+ref.Reason)
	case err != nil:
		m.setToast(toastError, msg.label+" failed: "+err.Error())
	case msg.rep.Seq > 0:
		m.setToast(toastOK, fmt.Sprintf("✓ %s (#%d)", msg.label, msg.rep.Seq))
	default:
		m.setToast(toastOK, "✓ "+msg.label)
	}
	return nil
}

// check asks the roles rules whether this person may act, before
// anything is sent. The error is a *roles.Refusal with the reason.
func (m *Model) check(act roles.Action, service string) error {
	if m.st == nil {
		return roles.Refuse("not connected to the engine yet")
	}
	return m.st.Roles.Check(m.roster, m.me, act, service)
}

// refuse shows why an action is not possible; nothing is sent.
func (m *Model) refuse(err error) tea.Cmd {
	var ref *roles.Refusal
	if errors.As(err, &ref) {
		m.setToast(toastError, "not allowed: "+ref.Reason)
	} else {
		m.setToast(toastError, err.Error())
	}
	return nil
}

func reasonOf(err error) string {
	var ref *roles.Refusal
	if errors.As(err, &ref) {
		return ref.Reason
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// serviceName is a service's display name.
func (m *Model) serviceName(id string) string {
	if id == "" {
		return "unmapped"
	}
	if s := m.cfg.Service(id); s != nil && s.Name != "" {
		return s.Name
	}
	return id
}

// oldestUnacked is the service's oldest open unacknowledged alert.
func (m *Model) oldestUnacked(service string) *incident.Alert {
	var best *incident.Alert
	for _, a := range m.st.OpenAlerts() {
		if a.Service == service && !a.Acked() && !a.Quiet() && (best == nil || a.FiredAt.Before(best.FiredAt)) {
			best = a
		}
	}
	return best
}

func (m *Model) ackAlert(a *incident.Alert) tea.Cmd {
	if a == nil {
		return m.refuse(errors.New("no alert selected"))
	}
	if err := m.check(roles.ActAck, a.Service); err != nil {
		return m.refuse(err)
	}
	if a.Acked() && !m.groupWaits(a) {
		return m.refuse(fmt.Errorf("%s is already acked by %s", a.ID, a.AckedBy))
	}
	return m.send("ack "+a.ID+" "+m.serviceName(a.Service), incident.Ack{By: m.me, AlertID: a.ID})
}

// groupWaits reports whether another alert of a's group is unacked: an
// ack acks the whole group.
func (m *Model) groupWaits(a *incident.Alert) bool {
	g := m.st.GroupOf(a)
	if g == nil {
		return false
	}
	for _, x := range m.st.Members(g) {
		if !x.Acked() {
			return true
		}
	}
	return false
}

func (m *Model) ackOldest(service string) tea.Cmd {
	if m.st == nil {
		return m.refuse(roles.Refuse("not connected to the engine yet"))
	}
	if err := m.check(roles.ActAck, service); err != nil {
		return m.refuse(err)
	}
	a := m.oldestUnacked(service)
	if a == nil {
		return m.refuse(fmt.Errorf("%s has no unacknowledged alerts", m.serviceName(service)))
	}
	return m.ackAlert(a)
}

func (m *Model) ackService(service string) tea.Cmd {
	if err := m.check(roles.ActAck, service); err != nil {
		return m.refuse(err)
	}
	if m.oldestUnacked(service) == nil {
		return m.refuse(fmt.Errorf("%s has no unacknowledged alerts", m.serviceName(service)))
	}
	return m.send("ack all of "+m.serviceName(service), incident.AckService{By: m.me, Service: service})
}

// resolveAlert resolves the alert by its id. When its condition still
// holds it asks first and says so: the rule would fire it again at once
// as a new alert, splitting its history.
func (m *Model) resolveAlert(a *incident.Alert) tea.Cmd {
	if a == nil {
		return m.refuse(errors.New("no alert selected"))
	}
	if err := m.check(roles.ActResolve, a.Service); err != nil {
		return m.refuse(err)
	}
	id, svc := a.ID, m.serviceName(a.Service)
	send := func(m *Model) tea.Cmd {
		return m.send("resolve "+id, incident.Resolve{By: m.me, AlertID: id, Reason: "resolved by hand"})
	}
	holds, why := m.conditionHolds(a)
	if !holds {
		return send(m)
	}
	m.confirm("Resolve "+id+" ("+svc+")? Its condition still holds: "+why+", so it will fire again as a new alert.", send)
	return nil
}

// confirm asks a yes/no question on the message line; y runs fn.
func (m *Model) confirm(q string, fn func(m *Model) tea.Cmd) {
	m.overlay = overlayConfirm
	m.confirmText = q
	m.confirmFn = fn
	m.invalidate()
}

func (m *Model) toggleImportant(ev *incident.Event) tea.Cmd {
	if ev == nil {
		return m.refuse(errors.New("no event selected"))
	}
	if err := m.check(roles.ActMarkImportant, ""); err != nil {
		return m.refuse(err)
	}
	mark := !m.st.Important[ev.Seq]
	label := fmt.Sprintf("mark #%d important", ev.Seq)
	if !mark {
		label = fmt.Sprintf("unmark #%d", ev.Seq)
	}
	return m.send(label, incident.MarkImportant{By: m.me, Seq: ev.Seq, Important: mark})
}

// toggleFollowUp marks (or unmarks) a note as a follow-up for the
// postmortem's action items.
func (m *Model) toggleFollowUp(ev *incident.Event) tea.Cmd {
	if ev == nil {
		return m.refuse(errors.New("no event selected"))
	}
	if ev.Kind != incident.KindNote {
		return m.refuse(fmt.Errorf("#%d is a %s: only notes are follow-ups", ev.Seq, ev.Kind))
	}
	if err := m.check(roles.ActFollowUp, ""); err != nil {
		return m.refuse(err)
	}
	mark := !m.st.Life.FollowUps[ev.Seq]
	label := fmt.Sprintf("mark #%d as a follow-up", ev.Seq)
	if !mark {
		label = fmt.Sprintf("unmark #%d as a follow-up", ev.Seq)
	}
	return m.send(label, incident.MarkFollowUp{By: m.me, Seq: ev.Seq, FollowUp: mark})
}

// startNote opens the note input, about a service or the whole incident.
func (m *Model) startNote(service string) tea.Cmd {
	if err := m.check(roles.ActNote, service); err != nil {
		return m.refuse(err)
	}
	label := "note"
	if service != "" {
		label = "note on " + m.serviceName(service)
	}
	return m.openInput(label, func(m *Model, text string) tea.Cmd {
		if strings.TrimSpace(text) == "" {
			return m.refuse(errors.New("a note needs text"))
		}
		return m.send("note", incident.Note{By: m.me, Service: service, Text: text})
	})
}

func (m *Model) acceptOffer() tea.Cmd {
	if err := m.check(roles.ActAnswerOffer, ""); err != nil {
		return m.refuse(err)
	}
	return m.send("accept command", incident.AcceptCommand{By: m.me})
}

// checkDecline mirrors the engine: the offeree declines, the commander
// withdraws.
func (m *Model) checkDecline() error {
	if m.st == nil {
		return roles.Refuse("not connected to the engine yet")
	}
	o := m.st.Roles.Offer
	if o == nil {
		return roles.Refuse("there is no pending command offer")
	}
	if m.me == m.st.Roles.Commander && m.me != o.To {
		return nil
	}
	return m.check(roles.ActAnswerOffer, "")
}

func (m *Model) declineOffer() tea.Cmd {
	if err := m.checkDecline(); err != nil {
		return m.refuse(err)
	}
	label := "decline command"
	if m.me == m.st.Roles.Commander {
		label = "withdraw command offer"
	}
	return m.send(label, incident.DeclineCommand{By: m.me})
}

// startOffer picks the person to offer command to, then what the
// commander becomes after the handoff (deputy unless they choose
// otherwise), warning when nobody else could approve runs.
func (m *Model) startOffer() tea.Cmd {
	if err := m.check(roles.ActOfferCommand, ""); err != nil {
		return m.refuse(err)
	}
	if o := m.st.Roles.Offer; o != nil {
		return m.refuse(fmt.Errorf("command is already offered to %s; withdraw that offer first (D)", o.To))
	}
	items := m.personChoices(func(p roles.Person) string {
		if p.Handle == m.me {
			return "you are already the commander"
		}
		return ""
	})
	m.openChooser("Offer command to…", items, func(m *Model, c choice) tea.Cmd {
		to := c.value
		deputy := m.st.Roles.Deputy
		stay := "stay on as deputy"
		if deputy != "" && deputy != m.me && deputy != to {
			stay += " (replaces " + deputy + ")"
		}
		down := "step down to observer"
		if deputy == "" || deputy == to {
			down += " — nobody but " + to + " could approve runs, and nobody could approve " + to + "'s own"
		}
		opts := []choice{{label: stay, value: string(roles.Deputy)}, {label: down, value: ""}}
		m.openChooser("After "+to+" accepts command, you…", opts, func(m *Model, c choice) tea.Cmd {
			return m.send("offer command to "+to, incident.OfferCommand{By: m.me, To: to, Stay: roles.Role(c.value)})
		})
		return nil
	})
	return nil
}

// startAssign picks the person for a role slot.
func (m *Model) startAssign(s slot) tea.Cmd {
	if s.role == roles.Commander {
		return m.startOffer()
	}
	if err := m.check(roles.ActAssign, s.service); err != nil {
		return m.refuse(err)
	}
	cur := m.st.Roles.Holder(s.role, s.service)
	items := m.personChoices(func(p roles.Person) string {
		if p.Handle == cur {
			return "already holds this role"
		}
		return ""
	})
	m.openChooser("Assign "+s.label(m)+" to…", items, func(m *Model, c choice) tea.Cmd {
		return m.send(fmt.Sprintf("assign %s to %s", s.label(m), c.value), incident.Assign{By: m.me, Role: s.role, Service: s.service, Handle: c.value})
	})
	return nil
}

// clearSlot unassigns a role after asking, warning when it leaves a
// service without an owner (its alerts then page only the commander).
func (m *Model) clearSlot(s slot) tea.Cmd {
	if s.role == roles.Commander {
		return m.refuse(roles.Refuse("command changes hands only by an offer the new commander accepts (o)"))
	}
	if err := m.check(roles.ActAssign, s.service); err != nil {
		return m.refuse(err)
	}
	holder := m.st.Roles.Holder(s.role, s.service)
	if holder == "" {
		return m.refuse(fmt.Errorf("nobody holds %s", s.label(m)))
	}
	q := "Unassign " + holder + " as " + s.label(m) + "?"
	if s.service != "" {
		o := m.st.Roles.Services[s.service]
		other := o.Backup
		if s.role == roles.Backup {
			other = o.Primary
		}
		if other == "" {
			q += " " + m.serviceName(s.service) + " will have no owner: nobody acks its alerts but the commander, who is paged for them."
		}
	}
	if s.role == roles.Deputy {
		q += " Then only the commander can approve runs, and nobody can approve the commander's own."
	}
	m.confirm(q, func(m *Model) tea.Cmd {
		return m.send("unassign "+s.label(m), incident.Assign{By: m.me, Role: s.role, Service: s.service})
	})
	return nil
}

func (m *Model) personChoices(disabled func(roles.Person) string) []choice {
	var out []choice
	for _, p := range m.roster.People() {
		rs := strings.Join(m.st.Roles.RolesOf(p.Handle), ", ")
		if rs == "" {
			rs = "observer"
		}
		label := p.Handle
		if p.Name != "" {
			label += " — " + p.Name
		}
		reason := ""
		if disabled != nil {
			reason = disabled(p)
		}
		out = append(out, choice{label: label, hint: rs, value: p.Handle, reason: reason})
	}
	return out
}

func (m *Model) runPlaybook(pb Playbook) tea.Cmd {
	if m.runner() != nil {
		return m.openPlaybookForm(pb)
	}
	if err := m.check(roles.ActRunPlaybook, pb.Service); err != nil {
		return m.refuse(err)
	}
	starter, ok := m.o.Playbooks.(PlaybookStarter)
	if !ok {
		m.setToast(toastInfo, "playbook "+pb.Name+": runs are started from the playbook dialog (not wired in this build)")
		return nil
	}
	// A run is a mitigation: ask first, and start it in a Cmd.
	m.overlay = overlayConfirm
	m.confirmText = "Request a run of playbook " + pb.Name + " with its default parameters?"
	m.confirmFn = func(m *Model) tea.Cmd {
		ctx, me, name := m.ctx, m.me, pb.Name
		m.pending++
		return func() tea.Msg {
			return replyMsg{label: "request playbook " + name, err: starter.StartPlaybook(ctx, me, name)}
		}
	}
	m.invalidate()
	return nil
}

// action is one entry of the command palette.
type action struct {
	title string
	key   string
	err   error // why this person may not take it; nil if enabled
	run   func(m *Model) tea.Cmd
	// repeat marks per-service variants whose reason the help screen
	// already gives once (ack all, notes on a service).
	repeat bool
}

// actions lists everything a person can do, each with the reason it is
// disabled for them, if it is.
func (m *Model) actions() []action {
	k := m.keys
	var out []action
	add := func(title, key string, err error, run func(m *Model) tea.Cmd) {
		out = append(out, action{title: title, key: key, err: err, run: run})
	}
	again := func() { out[len(out)-1].repeat = true }
	goTo := func(v viewID) func(m *Model) tea.Cmd {
		return func(m *Model) tea.Cmd { m.setView(v); return nil }
	}
	add("Go to overview", k.Overview.Help().Key, nil, goTo(viewOverview))
	add("Go to alerts", k.Alerts.Help().Key, nil, goTo(viewAlerts))
	add("Go to timeline", k.Timeline.Help().Key, nil, goTo(viewTimeline))
	add("Go to roles", k.Roles.Help().Key, nil, goTo(viewRoles))
	add("Go to runs (playbook runs: approve, cancel, resolve)", k.Runs.Help().Key, nil, goTo(viewRuns))
	add("Add a note to the timeline", k.Note.Help().Key, m.check(roles.ActNote, ""), func(m *Model) tea.Cmd { return m.startNote("") })
	add("Offer command to…", k.Offer.Help().Key, m.offerErr(), func(m *Model) tea.Cmd { return m.startOffer() })
	add("Accept the command offer", k.Accept.Help().Key, m.check(roles.ActAnswerOffer, ""), func(m *Model) tea.Cmd { return m.acceptOffer() })
	add("Decline / withdraw the command offer", k.Decline.Help().Key, m.checkDecline(), func(m *Model) tea.Cmd { return m.declineOffer() })
	add("Assign a role…", "4 "+k.Assign.Help().Key, m.check(roles.ActAssign, ""), func(m *Model) tea.Cmd { m.setView(viewRoles); return nil })
	add("Mark the selected timeline event important", k.MarkImportant.Help().Key, m.check(roles.ActMarkImportant, ""), func(m *Model) tea.Cmd {
		m.setView(viewTimeline)
		return m.toggleImportant(m.selectedEvent())
	})
	add("Timeline: important events only", k.FilterImportant.Help().Key, nil, func(m *Model) tea.Cmd {
		m.setView(viewTimeline)
		m.tl.important = !m.tl.important
		return nil
	})
	for i := range m.cfg.Services {
		svc := &m.cfg.Services[i]
		id, name := svc.ID, m.serviceName(svc.ID)
		add("Open "+name, k.Open.Help().Key, nil, func(m *Model) tea.Cmd { m.openDetail(id); return nil })
		ackErr := m.check(roles.ActAck, id)
		if ackErr == nil && m.st != nil && m.oldestUnacked(id) == nil {
			ackErr = fmt.Errorf("%s has no unacknowledged alerts", name)
		}
		add("Ack the oldest alert of "+name, k.Ack.Help().Key, ackErr, func(m *Model) tea.Cmd { return m.ackOldest(id) })
		add("Ack all alerts of "+name, k.AckService.Help().Key, ackErr, func(m *Model) tea.Cmd { return m.ackService(id) })
		again()
		add("Add a note on "+name, "", m.check(roles.ActNote, id), func(m *Model) tea.Cmd { return m.startNote(id) })
		again()
	}
	if m.o.Playbooks != nil {
		for _, pb := range m.o.Playbooks.List() {
			pb := pb
			title := pb.Title
			if title == "" {
				title = pb.Name
			}
			where := "incident"
			if pb.Service != "" {
				where = m.serviceName(pb.Service)
			}
			add("Run playbook: "+title+" ("+where+")", "", m.playbookErr(pb), func(m *Model) tea.Cmd { return m.runPlaybook(pb) })
		}
		for _, run := range m.approvals() {
			id := run.ID
			add("Approve or reject "+run.ID+" "+run.Playbook+" (requested by "+run.Actor+")", k.Accept.Help().Key, nil, func(m *Model) tea.Cmd { return m.openApproval(id) })
		}
		if m.st != nil {
			for _, run := range m.runRows() {
				if incident.RunTerminal(run.State) {
					continue
				}
				run := run
				switch run.State {
				case incident.RunInterrupted, incident.RunAwaitingDecision:
					add("Resolve "+run.ID+" "+run.Playbook+" ("+run.State.Words()+"): verify, rollback or abandon", k.Resolve.Help().Key, m.mayResolve(run), func(m *Model) tea.Cmd { return m.resolveRun(run) })
				default:
					add("Cancel "+run.ID+" "+run.Playbook+" ("+run.State.Words()+")", k.Cancel.Help().Key, m.mayCancel(run), func(m *Model) tea.Cmd { return m.cancelRun(run) })
				}
			}
		}
	}
	if m.launchMode() {
		add("Go to the launch board", k.Launch.Help().Key, nil, goTo(viewLaunch))
		add("Decide the launch: go, hold with a new T-0, or abort", k.Decide.Help().Key, m.decideErr(), func(m *Model) tea.Cmd {
			m.setView(viewLaunch)
			return m.startDecision()
		})
		for _, c := range m.launchCriteria() {
			if c.Kind() != config.KindSignOff {
				continue
			}
			var err error
			if c.SignOff != m.me {
				err = roles.Refuse("%s is signed off by %s", c.ID, c.SignOff)
			}
			add("Sign off "+c.ID+" (or withdraw)", k.SignOff.Help().Key, err, func(m *Model) tea.Cmd {
				m.setView(viewLaunch)
				return m.signOff()
			})
		}
		impErr := m.check(roles.ActEvidence, "")
		if m.o.Launch.ReadLoadTest == nil && impErr == nil {
			impErr = errors.New("not in this session: ssh HOST import < FILE")
		}
		add("Import a k6 or vegeta result as load-test evidence", k.ImportLoad.Help().Key, impErr, func(m *Model) tea.Cmd {
			m.setView(viewLaunch)
			return m.startImport()
		})
	}
	m.commsActions(add)
	if m.o.Launch.Preflight != nil {
		// The checks of check --live, in any room: the result is a CHECK
		// event (and a preflight criterion's evidence, with a plan).
		add("Run the preflight (check --live) and record it", k.Preflight.Help().Key, m.check(roles.ActEvidence, ""), func(m *Model) tea.Cmd {
			if m.launchMode() {
				m.setView(viewLaunch)
			}
			return m.runPreflight()
		})
	}
	add("Toggle dark/light theme", k.Theme.Help().Key, nil, func(m *Model) tea.Cmd { m.toggleTheme(); return nil })
	add("Help: all keys", k.Help.Help().Key, nil, func(m *Model) tea.Cmd { m.openHelp(); return nil })
	add("Quit", k.Quit.Help().Key, nil, func(m *Model) tea.Cmd { return m.askQuit(false) })
	return out
}

func (m *Model) offerErr() error {
	if err := m.check(roles.ActOfferCommand, ""); err != nil {
		return err
	}
	if o := m.st.Roles.Offer; o != nil {
		return fmt.Errorf("command is already offered to %s", o.To)
	}
	return nil
}

func (m *Model) toggleTheme() {
	m.dark = !m.dark
	m.o.Theme = ThemeLight
	if m.dark {
		m.o.Theme = ThemeDark
	}
	m.restyle()
}
