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

// TestRemotePresence: in a shared room, what the other processes say is
// connected to them counts as connected here (the roster's ways in and the
// header's count), and each word replaces the last; it lapses by its own
// process's word, not this clock. LocalPresence, what this process tells
// them, is its own sessions and Slack activity only, lapse times included.
// None of it is journaled.
func TestRemotePresence(t *testing.T) {
	h := newHarness(t)
	_, sub, err := h.e.Subscribe(context.Background(), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer h.e.Unsubscribe(sub)
	before := h.state().LastSeq
	h.ok(Join{Session: "s1", Handle: "maya", Via: ViaLocal})
	h.ok(Seen{Handle: "alice", Via: ViaSlack})
	firstUntil := h.e.LocalPresence()["slack:alice"].Until
	h.ok(RemotePresence{Entries: map[string]Presence{
		"b/s7":       {Handle: "sam", Via: ViaSSH, Since: t0, Node: "b"},
		"b/slack:bo": {Handle: "bob", Via: ViaSlack, Since: t0, Until: t0.Add(time.Minute), Node: "b"},
		"b/s8":       {Handle: "mallory", Via: ViaSSH, Since: t0, Node: "b"}, // not on this roster
	}})
	s := h.state()
	if got := s.ConnectedPeople(); !slices.Equal(got, []string{"alice", "bob", "maya", "sam"}) {
		t.Fatalf("connected %v", got)
	}
	if got := s.Connected("sam"); !slices.Equal(got, []string{ViaSSH}) {
		t.Fatalf("sam is connected via %v", got)
	}
	var fed map[string]Presence
	for drained := false; !drained; {
		select {
		case u := <-sub.C:
			if u.Presence != nil {
				fed = u.Presence
			}
		default:
			drained = true
		}
	}
	if len(fed) != 4 || fed["b/s7"].Node != "b" {
		t.Fatalf("the feed's presence %v", fed)
	}
	if lp := h.e.LocalPresence(); len(lp) != 2 || lp["s1"].Handle != "maya" || lp["slack:alice"].Handle != "alice" {
		t.Fatalf("local presence %v", lp)
	}
	if got := h.state().LastSeq; got != before {
		t.Fatalf("presence wrote %d events", got-before)
	}
	// Slack activity moves the lapse time this process tells the others.
	h.advance(2 * time.Minute)
	before = h.state().LastSeq // the heartbeat's own events
	h.ok(Seen{Handle: "alice", Via: ViaSlack})
	if got := h.e.LocalPresence()["slack:alice"].Until; !got.After(firstUntil) {
		t.Fatalf("alice's lapse time told is still %v (was %v)", got, firstUntil)
	}
	// bob's Slack presence was due to lapse a minute ago by this clock:
	// it is b's to say.
	if got := h.state().Connected("bob"); !slices.Equal(got, []string{ViaSlack}) {
		t.Fatalf("bob lapsed here: %v", got)
	}
	// Leave names this process's sessions only.
	h.ok(Leave{Session: "b/s7"})
	h.ok(RemotePresence{Entries: map[string]Presence{"b/s7": {Handle: "sam", Via: ViaSSH, Since: t0, Node: "b"}}})
	if got := h.state().ConnectedPeople(); !slices.Equal(got, []string{"alice", "maya", "sam"}) {
		t.Fatalf("after b's new word: %v", got)
	}
	h.ok(RemotePresence{})
	if got := h.state().ConnectedPeople(); !slices.Equal(got, []string{"alice", "maya"}) {
		t.Fatalf("after b said nobody: %v", got)
	}
	if r := h.do(RemotePresence{Entries: map[string]Presence{"x": {Handle: "sam", Via: ViaSSH}}}); r.Err == nil {
		t.Fatal("a remote presence without its node was taken")
	}
	if got := h.state(); got.LastSeq != before || len(got.Presence) != 2 {
		t.Fatalf("presence wrote %d events, or a refused word changed it: %v", got.LastSeq-before, got.Presence)
	}
}
