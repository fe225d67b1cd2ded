package mirror

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// A storm: one Alertmanager notification of 300 critical alerts for one
// service (the shape Alertmanager sends for a fleet-wide rule). It is one
// alert group, so Slack gets one alert message, updated, at most 3 pages
// in the first 3 minutes (backup, then commander), and a note written
// during the storm goes out within 10 s.
func TestStormOfOneGroupLeavesRoomForNotes(t *testing.T) {
	h := newHarness(t, hopts{escalate: time.Minute})
	h.drive(time.Minute, h.drained)
	start := h.clk.Now()
	var noteAt time.Time
	var noteSeq int64
	storm := func() {
		var xs []incident.ExternalAlert
		for i := range 300 {
			xs = append(xs, incident.ExternalAlert{Key: fmt.Sprintf("%016x", i), Service: "tokens", Name: "DiskFull", Level: incident.LevelCrit,
				Firing: true, Text: fmt.Sprintf("disk 97%% on host-%03d", i), Rule: "alertname:DiskFull",
				Labels: map[string]string{"alertname": "DiskFull", "instance": fmt.Sprintf("host-%03d:9100", i)}})
		}
		h.do(incident.ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: xs})
		noteAt = h.clk.Now()
		noteSeq = h.note("alice", "disk alerts are the log volume filling; rotating now")
		h.waitIngested()
	}
	h.drive(time.Minute, h.drained, hook{at: 0, fn: storm})
	// Escalation: the backup after a minute, the commander after two.
	// Time moves in the engine's one-second ticks from here (a tick the
	// engine misses under load only delays a page to a later second).
	h.autoDrive()
	for h.clk.Now().Sub(start) < 3*time.Minute {
		h.clk.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
	h.stopDriving()
	h.drive(time.Minute, h.drained)
	var pages, alerts []string
	notePosted := time.Time{}
	for _, m := range h.srv.Messages(h.srv.ChannelID()) {
		switch {
		case isPage(m):
			if m.Posted.Sub(start) <= 3*time.Minute {
				pages = append(pages, firstLine(m.Text))
			}
		case isAlertMsg(m):
			alerts = append(alerts, firstLine(m.Text))
		}
		for _, s := range seqsIn(m.Text) {
			if s == noteSeq && notePosted.IsZero() {
				notePosted = m.Posted
			}
		}
	}
	if notePosted.IsZero() || notePosted.Sub(noteAt) > 10*time.Second {
		t.Fatalf("the note written during the storm reached Slack %v after it was written", notePosted.Sub(noteAt))
	}
	if len(pages) > 3 || len(pages) < 2 {
		t.Fatalf("%d pages in the first 3 minutes: %q", len(pages), pages)
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], "+299 alerts (300 open)") || !strings.Contains(alerts[0], "*CRIT* · unacked") {
		t.Fatalf("one alert message for the group: %q", alerts)
	}
	if !strings.Contains(h.srv.Messages(h.srv.ChannelID())[1].Text, "— <@U0ALICE> (alice)") {
		t.Fatalf("the owner is mentioned when the alert fires: %q", h.srv.Messages(h.srv.ChannelID())[1].Text)
	}
	t.Logf("note in Slack %v after it was written; %d pages in 3 minutes: %q", notePosted.Sub(noteAt), len(pages), pages)
	h.noViolations()
}

// waitIngested waits (in real time) until the mirror has planned every
// committed event, so that the driven clock does not run ahead of it.
func (h *harness) waitIngested() {
	h.t.Helper()
	h.waitReal("the mirror to plan every event", func() bool {
		h.m.mu.Lock()
		defer h.m.mu.Unlock()
		return h.m.ingested >= h.j.LastSeq()
	})
}

// The owner is mentioned once for a burst of alerts on their service (the
// first message of theirs in a minute; the others name them), and again
// after a minute; with escalation.owner the room pages them, so the
// messages only name them and the page mentions them.
func TestOwnerMentionedOncePerBurst(t *testing.T) {
	for _, ownerPages := range []bool{false, true} {
		h := newHarness(t, hopts{mirror: func(o *Options) { o.OwnerPages = ownerPages }})
		h.drive(time.Minute, h.drained)
		raise := func(text string) {
			h.do(incident.Raise{By: "maya", Service: "tokens", Level: incident.LevelCrit, Text: text})
		}
		for i := range 4 {
			raise(fmt.Sprintf("burst %d", i))
		}
		h.drive(time.Minute, h.drained)
		h.clk.Advance(incident.PageEvery)
		raise("a minute later")
		h.drive(time.Minute, h.drained)
		mentions, named := 0, 0
		for _, m := range h.alertMsgs("fired: ") {
			if strings.Contains(m.Text, "<@U0ALICE>") {
				mentions++
			}
			if strings.Contains(m.Text, "— owner alice") {
				named++
			}
		}
		want := 2
		if ownerPages {
			want = 0
		}
		if mentions != want || mentions+named != 5 {
			t.Fatalf("owner pages %v: %d alert messages mention alice, %d name her; want %d mentions of 5", ownerPages, mentions, named, want)
		}
	}
}

// After a restart, later events of a group's member alerts still update
// the group's message (its membership is restored from the message's
// outbox row), rather than becoming timeline lines.
func TestGroupMembershipSurvivesRestart(t *testing.T) {
	h := newHarness(t, hopts{})
	h.drive(time.Minute, h.drained)
	var xs []incident.ExternalAlert
	for i := range 3 {
		xs = append(xs, incident.ExternalAlert{Key: fmt.Sprintf("k%d", i), Service: "tokens", Name: "DiskFull", Level: incident.LevelCrit,
			Firing: true, Text: fmt.Sprintf("disk 97%% on host-%d", i), Rule: "alertname:DiskFull"})
	}
	rep := h.do(incident.ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: xs})
	member := rep.Events[2].Alert.ID
	h.drive(time.Minute, h.drained)
	h.stopMirror()
	h.startMirror(hopts{})
	h.drive(time.Minute, h.drained)
	res := h.do(incident.Resolve{By: "alice", AlertID: member, Reason: "host drained"}).Seq
	h.drive(time.Minute, h.drained)
	var group []string
	for _, m := range h.srv.Messages(h.srv.ChannelID()) {
		if !slices.Contains(seqsIn(m.Text), res) {
			continue
		}
		if !isAlertMsg(m) {
			t.Fatalf("the member's resolve #%d became a timeline line after the restart: %q", res, m.Text)
		}
		group = append(group, m.Text)
	}
	if len(group) != 1 || !strings.Contains(group[0], "+2 alerts (2 open)") {
		t.Fatalf("the group's message shows the member's resolve: %q", group)
	}
	h.checkTranscript(h.j.LastSeq())
	h.noViolations()
}
