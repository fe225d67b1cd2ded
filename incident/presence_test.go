package incident

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestPresenceIsLiveButNeverJournaled: sessions join and leave, Slack
// activity lapses after SeenFor, subscribers get each change, and a
// restart (a replay of the journal) shows nobody connected.
func TestPresenceIsLiveButNeverJournaled(t *testing.T) {
	h := newHarness(t)
	_, sub, err := h.e.Subscribe(context.Background(), 64)
	if err != nil {
		t.Fatal(err)
	}
	before := h.state().LastSeq
	h.ok(Join{Session: "s1", Handle: "alice", Via: ViaSSH})
	h.ok(Join{Session: "s2", Handle: "maya", Via: ViaLocal})
	h.ok(Seen{Handle: "alice", Via: ViaSlack})
	h.refused(Join{Session: "s3", Handle: "mallory", Via: ViaSSH}, "not on the roster")
	s := h.state()
	if got := s.Connected("alice"); !slices.Equal(got, []string{ViaSSH, ViaSlack}) {
		t.Fatalf("alice is connected via %v", got)
	}
	if got := s.ConnectedPeople(); !slices.Equal(got, []string{"alice", "maya"}) {
		t.Fatalf("connected %v", got)
	}
	if s.LastSeq != before {
		t.Fatalf("presence wrote %d events", s.LastSeq-before)
	}
	// The feed carried each change.
	var last map[string]Presence
	for drained := false; !drained; {
		select {
		case u := <-sub.C:
			if u.Presence != nil {
				last = u.Presence
			}
		default:
			drained = true
		}
	}
	if len(last) != 3 {
		t.Fatalf("the feed's last presence %v", last)
	}
	h.ok(Leave{Session: "s1"})
	h.ok(Leave{Session: "s1"})
	if got := h.state().Connected("alice"); !slices.Equal(got, []string{ViaSlack}) {
		t.Fatalf("after leaving, alice is connected via %v", got)
	}
	h.advance(SeenFor + time.Second)
	if got := h.state().Connected("alice"); len(got) != 0 {
		t.Fatalf("Slack presence did not lapse: %v", got)
	}
	h.close()
	h2 := openHarness(t, h.path, testConfig())
	if got := h2.state().ConnectedPeople(); len(got) != 0 {
		t.Fatalf("after a restart %v show as connected", got)
	}
}
