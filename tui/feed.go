package tui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
)

// snapshotMsg carries a fresh subscription: the state as of the
// subscription and the feed of everything after it.
type snapshotMsg struct {
	st  *incident.State
	sub *incident.Subscription
	err error
}

// feed is the model's end of incident.Feed, which keeps the model
// current (a goroutine running incident.Follow, started by a Cmd, never in
// Update): updates, and a fresh snapshot after the model fell behind,
// which waitCmd reads outside Update.
type feed struct {
	c <-chan incident.FeedItem // set by followCmd
}

// feedMsg carries what the feed brought (coalesced: whatever was already
// queued when the first arrived): updates, then, when st is set, the
// fresh snapshot that came after them. closed reports that the feed ended
// after these.
type feedMsg struct {
	feed   *feed
	ups    []incident.Update
	st     *incident.State
	closed bool
}

type resubscribeMsg struct{}

// maxCoalesce bounds how many queued updates one feedMsg carries.
const maxCoalesce = 256

func subscribeCmd(ctx context.Context, eng Engine, buffer int) tea.Cmd {
	return func() tea.Msg {
		st, sub, err := eng.Subscribe(ctx, buffer)
		if err != nil {
			return snapshotMsg{err: err}
		}
		return snapshotMsg{st: st, sub: sub}
	}
}

// followCmd starts following sub into f, and waits for what it brings.
func followCmd(ctx context.Context, eng Engine, sub *incident.Subscription, buffer int, f *feed) tea.Cmd {
	return func() tea.Msg {
		f.c = incident.Feed(ctx, eng, sub, buffer)
		return waitCmd(ctx, f)()
	}
}

// waitCmd blocks outside Update until the feed has something, and
// returns it as a message.
func waitCmd(ctx context.Context, f *feed) tea.Cmd {
	return func() tea.Msg {
		msg := feedMsg{feed: f}
		var it incident.FeedItem
		var ok bool
		select {
		case it, ok = <-f.c:
		case <-ctx.Done():
			return nil
		}
		for {
			switch {
			case !ok:
				msg.closed = true
				return msg
			case it.State != nil:
				msg.st = it.State
				return msg
			}
			msg.ups = append(msg.ups, it.Update)
			if len(msg.ups) >= maxCoalesce {
				return msg
			}
			select {
			case it, ok = <-f.c:
			default:
				return msg
			}
		}
	}
}

func (m *Model) onSnapshot(msg snapshotMsg) tea.Cmd {
	if msg.err != nil {
		if m.ctx.Err() != nil {
			return nil
		}
		if errors.Is(msg.err, incident.ErrStopped) {
			m.feedErr = "the engine has stopped: " + msg.err.Error()
			m.invalidate()
			return nil
		}
		m.feedErr = "cannot subscribe: " + msg.err.Error() + " (retrying)"
		m.invalidate()
		return tea.Tick(2*time.Second, func(time.Time) tea.Msg { return resubscribeMsg{} })
	}
	if m.ctx.Err() != nil {
		eng, sub := m.eng, msg.sub
		return func() tea.Msg { eng.Unsubscribe(sub); return nil }
	}
	m.feed = &feed{}
	m.resync(msg.st)
	return followCmd(m.ctx, m.eng, msg.sub, m.buffer(), m.feed)
}

// resync makes st, a fresh snapshot, the model's state.
func (m *Model) resync(st *incident.State) {
	m.st, m.feedErr = st, ""
	m.version++
	m.eventsVersion++
	if m.st.LastSeq > 0 && len(m.st.Recent) > 0 {
		if t := m.st.Recent[len(m.st.Recent)-1].Time; t.After(m.now) {
			m.now = t
		}
	}
	m.clampSelections()
	if !m.launchOpened {
		// Before T-0 the dashboard opens on the launch board.
		m.launchOpened = true
		if m.view == viewOverview && m.openOnLaunch() {
			m.view = viewLaunch
		}
	}
	m.invalidate()
}

func (m *Model) onFeed(msg feedMsg) tea.Cmd {
	if msg.feed != m.feed || m.st == nil {
		return nil // a feed we have left
	}
	events := false
	ring := m.notifying()
	var texts []string
	for _, u := range msg.ups {
		if ring && len(u.Events) > 0 {
			texts = append(texts, m.critNotices(u)...)
		}
		// A pane's first answer shows at once: it ends its NO DATA, so
		// it is news like an event, not a move of a chart.
		events = events || m.firstAnswer(u.Samples)
		m.apply(u)
		if ring && len(u.Events) > 0 {
			texts = append(texts, m.actNotices(u)...)
		}
		events = events || len(u.Events) > 0 || u.Storage != nil || u.Cluster != nil
	}
	if msg.st != nil {
		// The model fell behind and was dropped: the snapshot holds all
		// it missed.
		m.resync(msg.st)
		m.setToast(toastInfo, "fell behind the engine: resynced")
		events = true
	}
	ringCmd := m.notify(texts)
	cmds := []tea.Cmd{ringCmd}
	switch {
	case events:
		// Events (an ack, a role change, an alert) and a change of the
		// journal's storage show at once.
		m.invalidate()
	case !m.o.NoTick:
		// Samples alone move values and charts: they show with the next
		// clock tick, at most a second later, so that the panes of a room
		// draw one frame a second together with the clock, not one per
		// sample.
		m.samplesPending = true
	case !m.redrawQueued:
		// Samples alone move charts; coalesce them into at most one
		// redraw per sampleRedraw instead of one per sample.
		m.redrawQueued = true
		cmds = append(cmds, tea.Tick(sampleRedraw, func(time.Time) tea.Msg { return redrawMsg{} }))
	}
	if !msg.closed {
		return tea.Batch(append(cmds, waitCmd(m.ctx, m.feed))...)
	}
	m.invalidate()
	if m.ctx.Err() != nil {
		return nil
	}
	m.feedErr = "the engine has stopped"
	return ringCmd
}

// firstAnswer reports whether a sample gives a pane its first value.
func (m *Model) firstAnswer(samples []incident.Sample) bool {
	for i := range samples {
		s := &samples[i]
		if s.Stale || s.NoData || !s.Limited.IsZero() {
			continue
		}
		if p := m.st.Panes[incident.PaneKey(s.Service, s.Pane)]; p == nil || !p.HasData {
			return true
		}
	}
	return false
}

// redrawMsg redraws after samples (see onFeed).
type redrawMsg struct{}

// sampleRedraw bounds how often samples alone redraw the screen.
const sampleRedraw = 500 * time.Millisecond

// apply folds one update into the model's state.
func (m *Model) apply(u incident.Update) {
	m.version++
	if len(u.Events) > 0 || u.Presence != nil || u.Storage != nil {
		m.eventsVersion++
	}
	for _, s := range u.Samples {
		if m.samplesVersion == nil {
			m.samplesVersion = map[string]uint64{}
		}
		m.samplesVersion[s.Service]++
	}
	m.st.ApplyUpdate(u)
	if u.Now.After(m.now) {
		m.now = u.Now
	}
	m.clampSelections()
}
