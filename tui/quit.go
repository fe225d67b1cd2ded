package tui

import (
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
)

// EndMsg ends the room's story (the demo): the dashboard shows Lines as
// a summary, and quitting no longer asks.
type EndMsg struct {
	Title string
	Lines []string
}

// inFlight lists the runs that quitting this process would interrupt
// (executing) or drop (waiting), oldest first.
func (m *Model) inFlight() (executing, waiting []*incident.Run) {
	if m.st == nil {
		return nil, nil
	}
	for _, r := range m.st.Runs {
		switch r.State {
		case incident.RunRunning, incident.RunVerifying, incident.RunRollingBack, incident.RunCancelling, incident.RunApproved:
			executing = append(executing, r)
		case incident.RunRequested, incident.RunAwaitingApproval:
			waiting = append(waiting, r)
		}
	}
	by := func(a, b *incident.Run) int { return runSeq(a.ID) - runSeq(b.ID) }
	slices.SortFunc(executing, by)
	slices.SortFunc(waiting, by)
	return executing, waiting
}

// askQuit starts quitting. A dashboard on an SSH session leaves the room
// running; `warroom run` and `demo` run the room in this process, so the
// prompt says the room stops, lists the runs in flight and, while one is
// executing, asks twice.
func (m *Model) askQuit(ctrlC bool) tea.Cmd {
	if m.end != nil || (ctrlC && !m.o.OwnsRoom) {
		return m.quit()
	}
	m.overlay, m.quitStage = overlayQuit, 0
	m.invalidate()
	return nil
}

func (m *Model) quitKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "y", "Y", "ctrl+c":
		exec, _ := m.inFlight()
		if m.o.OwnsRoom && len(exec) > 0 && m.quitStage == 0 {
			m.quitStage = 1
			m.invalidate()
			return nil
		}
		return m.quit()
	}
	m.closeOverlay()
	m.quitStage = 0
	m.setToast(toastInfo, "still here")
	return nil
}

// quitText is the quit prompt for the message line.
func (m *Model) quitText() string {
	if !m.o.OwnsRoom {
		return "Quit? y quits, any other key stays. The incident goes on without this screen."
	}
	exec, wait := m.inFlight()
	runs := func(rs []*incident.Run) string {
		var out []string
		for _, r := range rs {
			t := r.ID + " " + r.Playbook + " " + r.State.Words()
			if st := runStep(r); st != "" {
				t += " (" + st + ")"
			}
			out = append(out, t)
		}
		return strings.Join(out, ", ")
	}
	if m.quitStage == 1 {
		return "Really quit? y again stops the war room and interrupts " + runs(exec) + ": the outcome stays unknown until the commander resolves it. Any other key stays."
	}
	q := "Quit? y quits, any other key stays. This terminal runs the war room: it stops for everyone (sources, alerts, Slack, runs)."
	if len(exec) > 0 {
		q += " In flight: " + runs(exec) + "."
	}
	if len(wait) > 0 {
		ids := make([]string, len(wait))
		for i, r := range wait {
			ids[i] = r.ID + " " + r.Playbook
		}
		q += " Waiting for approval (will expire): " + strings.Join(ids, ", ") + "."
	}
	return q
}

// onEnd shows the demo's summary.
func (m *Model) onEnd(msg EndMsg) {
	m.end = &msg
	m.closeOverlay()
	m.setView(viewEnd)
}

func (m *Model) renderEnd(w, h int) []string {
	s := m.sty
	b := newBlock(w)
	if m.end == nil {
		return b.render(h)
	}
	b.add("")
	b.add("  " + s.Title.S(m.end.Title))
	b.add("")
	para := func(l string, p paint) {
		lead := len(l) - len(strings.TrimLeft(l, " "))
		for i, wl := range wrapLines(strings.TrimLeft(l, " "), max(w-4-lead-2, 10), 0) {
			pad := strings.Repeat(" ", lead)
			if i > 0 {
				pad += "  " // a wrapped line stays under its item
			}
			b.add("  " + pad + p.S(wl))
		}
	}
	for _, l := range m.end.Lines {
		para(l, s.Text)
	}
	b.add("")
	para("The room has stopped; the views still show how it ended. q quits (the summary is printed again), esc goes back.", s.Muted)
	return b.render(h)
}
