package incident

import (
	"fmt"
	"time"

	"github.com/warroom/warroom/journal"
)

// skewEvent is how far the system clock may read behind the journal
// before the skew is recorded as a CLOCK event.
const skewEvent = 2 * time.Second

// monoClock stamps events so that the timeline never goes back: an event
// is never before its predecessor, across restarts (a journal written
// under a faster or skewed clock) and clock steps while running. When the
// wall clock reads behind, event times continue from the last event by
// the monotonic time elapsed since, so durations stay true; once the wall
// clock catches up it is used again.
type monoClock struct {
	last     time.Time     // the newest committed event's time (wall only)
	at       time.Time     // the clock reading last was taken at (with its monotonic reading)
	pending  time.Time     // the reading of the batch being decided
	behind   time.Duration // how far the wall clock reads behind now; 0 when not
	reported bool          // a CLOCK event says the clock is behind
}

func (c *monoClock) start(now time.Time, st *State) {
	c.at = now
	if n := len(st.Recent); n > 0 {
		c.last = st.Recent[n-1].Time.Round(0)
	}
}

// now is the time to stamp the batch decided at clock reading wall.
func (c *monoClock) now(wall time.Time) time.Time {
	c.pending = wall
	w := wall.Round(0)
	if c.last.IsZero() {
		return w
	}
	floor := c.last.Add(wall.Sub(c.at)) // monotonic elapsed when both readings have it
	if w.Before(floor) {
		c.behind = floor.Sub(w)
		return floor
	}
	c.behind = 0
	return w
}

// committed records that events stamped t were committed.
func (c *monoClock) committed(t time.Time) {
	c.last, c.at = t.Round(0), c.pending
}

// checkSystem records, as events, what the room should know about the
// machine it runs on: the clock reading behind the journal, and the
// journal's storage changing state (a full disk, and its recovery). It
// runs with every heartbeat.
type checkSystem struct{}

func (checkSystem) decide(d *decider) error {
	if d.e.role != RoleLeader {
		return nil
	}
	c := &d.e.clk
	switch {
	case c.behind >= skewEvent && !c.reported:
		c.reported = true
		d.emit(Event{Kind: KindClock, Actor: "warroom", Text: fmt.Sprintf(
			"the system clock reads %s behind the journal's last event: event times continue from the journal's until it catches up", Age(c.behind))})
	case c.behind == 0 && c.reported:
		c.reported = false
		d.emit(Event{Kind: KindClock, Actor: "warroom", Text: "the system clock caught up with the journal: event times follow it again"})
	}
	if h := d.s.Storage; h.State != "" && h.State != d.s.storageLogged && (h.State != journal.StorageOK || d.s.storageLogged != "") {
		text := h.Reason
		if h.State == journal.StorageOK {
			text = "the journal writes normally again"
			if h.SamplesDropped > 0 {
				text += fmt.Sprintf(" (%d samples were not recorded)", h.SamplesDropped)
			}
		}
		d.emit(Event{Kind: KindStorage, Actor: "warroom", Storage: h.State, Text: text})
	}
	return nil
}
