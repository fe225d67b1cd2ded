package incident

import (
	"maps"
	"slices"
	"time"

	"github.com/warroom/warroom/roles"
)

// Presence is one way a person is in the room right now: a dashboard in
// this process (local), one over SSH, or recent activity in Slack.
//
// Presence is not an event. Who is looking is not a fact of the incident,
// so it is never written to the journal: a replay cannot revive a session,
// and after a restart nobody shows as connected until they connect again.
// The engine keeps it beside the state, like the panes' samples, and
// publishes changes in Update.Presence.
type Presence struct {
	Handle string
	Via    string // ViaLocal, ViaSSH or ViaSlack
	Since  time.Time
	// Until is when Slack presence lapses (zero for a session, which
	// lasts until it leaves).
	Until time.Time
}

// Ways into the room.
const (
	ViaLocal = "local"
	ViaSSH   = "ssh"
	ViaSlack = "slack"
)

// SeenFor is how long a Slack command or button counts as presence.
const SeenFor = 15 * time.Minute

// Join records a dashboard session (local or SSH) until Leave.
type Join struct {
	Session string // unique per session
	Handle  string
	Via     string
}

// Leave ends a session. Leaving twice is harmless.
type Leave struct{ Session string }

// Seen records activity without a session (a Slack command): the person
// counts as present for SeenFor.
type Seen struct {
	Handle string
	Via    string
}

func (c Join) decide(d *decider) error {
	if _, ok := d.e.roster.Get(c.Handle); !ok {
		return roles.Refuse("%q is not on the roster", c.Handle)
	}
	if c.Session == "" {
		return roles.Refuse("a session needs an id")
	}
	d.setPresence(c.Session, Presence{Handle: c.Handle, Via: c.Via, Since: d.now})
	return nil
}

func (c Leave) decide(d *decider) error {
	if _, ok := d.s.Presence[c.Session]; ok {
		delete(d.s.Presence, c.Session)
		d.presence = true
	}
	return nil
}

func (c Seen) decide(d *decider) error {
	if _, ok := d.e.roster.Get(c.Handle); !ok {
		return roles.Refuse("%q is not on the roster", c.Handle)
	}
	key := c.Via + ":" + c.Handle
	p, ok := d.s.Presence[key]
	if !ok {
		p = Presence{Handle: c.Handle, Via: c.Via, Since: d.now}
	}
	p.Until = d.now.Add(SeenFor)
	d.setPresence(key, p)
	return nil
}

func (d *decider) setPresence(key string, p Presence) {
	if d.s.Presence == nil {
		d.s.Presence = map[string]Presence{}
	}
	old, had := d.s.Presence[key]
	d.s.Presence[key] = p
	// A Slack presence that only moves its lapse time is not news.
	d.presence = d.presence || !had || old.Handle != p.Handle || old.Via != p.Via
}

// expirePresence drops Slack presence that has lapsed (on the heartbeat).
func (d *decider) expirePresence() {
	for k, p := range d.s.Presence {
		if !p.Until.IsZero() && !d.now.Before(p.Until) {
			delete(d.s.Presence, k)
			d.presence = true
		}
	}
}

// Connected lists how a person is in the room right now (local, ssh,
// slack), each once, in that order.
func (s *State) Connected(handle string) []string {
	var out []string
	for _, via := range []string{ViaLocal, ViaSSH, ViaSlack} {
		for _, p := range s.Presence {
			if p.Handle == handle && p.Via == via {
				out = append(out, via)
				break
			}
		}
	}
	return out
}

// ConnectedPeople lists everyone present, in handle order.
func (s *State) ConnectedPeople() []string {
	seen := map[string]bool{}
	for _, p := range s.Presence {
		seen[p.Handle] = true
	}
	return slices.Sorted(maps.Keys(seen))
}
