package incident

import (
	"fmt"
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
	// Node is the process of a shared room the person is connected to,
	// when it is another one than this ("" here).
	Node string
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
	if p, ok := d.s.Presence[c.Session]; ok && p.Node == "" {
		delete(d.s.Presence, c.Session)
		d.presence, d.localMoved = true, true
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
	// A presence that only moves its lapse time is not news.
	d.presence = d.presence || !had || old.Handle != p.Handle || old.Via != p.Via
	d.localMoved = d.localMoved || p.Node == ""
}

// RemotePresence is what the other processes of a shared room say is
// connected to them now, keyed by node and their own key (Node set): it
// replaces what they said before. A handle this room's roster does not
// know is not counted. Like Join it is this process's own
// business, never forwarded nor journaled.
type RemotePresence struct{ Entries map[string]Presence }

func (c RemotePresence) decide(d *decider) error {
	for k, p := range c.Entries {
		if p.Node == "" {
			return fmt.Errorf("remote presence %q names no node", k)
		}
	}
	for k, p := range d.s.Presence {
		if _, ok := c.Entries[k]; !ok && p.Node != "" {
			delete(d.s.Presence, k)
			d.presence = true
		}
	}
	for k, p := range c.Entries {
		if _, ok := d.e.roster.Get(p.Handle); ok {
			d.setPresence(k, p)
		}
	}
	return nil
}

// LocalPresence is who is connected to this process (its sessions and the
// Slack activity it saw), as of the engine's last batch: what it tells
// the other processes of a shared room. Safe for concurrent use.
func (e *Engine) LocalPresence() map[string]Presence {
	if p := e.localPresence.Load(); p != nil {
		return *p
	}
	return nil
}

// noteLocalPresence refreshes LocalPresence (engine goroutine).
func (e *Engine) noteLocalPresence() {
	local := map[string]Presence{}
	for k, p := range e.state.Presence {
		if p.Node == "" {
			local[k] = p
		}
	}
	e.localPresence.Store(&local)
}

// expirePresence drops this process's Slack presence that has lapsed (on
// the heartbeat). Another process's lapses with its word, by its clock.
func (d *decider) expirePresence() {
	for k, p := range d.s.Presence {
		if p.Node == "" && !p.Until.IsZero() && !d.now.Before(p.Until) {
			delete(d.s.Presence, k)
			d.presence, d.localMoved = true, true
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
