package mirror

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	slacksim "github.com/warroom/warroom/sim/slack"
)

// A storm: one Alertmanager notification of 300 critical alerts for one
// service (the shape Alertmanager sends for a fleet-wide rule). It is one
// alert group, so Slack gets one alert message, updated, two pages in the
// first 3 minutes (the backup after one, the commander after two), and a
// note written during the storm goes out within 10 s.
func TestStormOfOneGroupLeavesRoomForNotes(t *testing.T) {
	inBubble(t, hopts{escalate: time.Minute}, func(t *testing.T, h *harness) {
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
		}
		h.drive(time.Minute, h.drained, hook{at: 0, fn: storm})
		// Escalation: the backup after a minute, the commander after two.
		h.heartbeats(3*time.Minute - h.clk.Now().Sub(start))
		h.drive(time.Minute, h.drained)
		var pages, alerts []string
		notePosted := time.Time{}
		for _, m := range h.srv.Messages(h.srv.ChannelID()) {
			switch {
			case isPage(m):
				// A page counts at the time of its event (the engine's
				// decision); the mirror posts it when it can.
				if at, ok := eventTime(m.Text); ok && at.Sub(start) <= 3*time.Minute {
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
		if len(pages) != 2 || !strings.Contains(pages[0], "14:01:00Z") || !strings.Contains(pages[0], "(bob)") ||
			!strings.Contains(pages[1], "14:02:00Z") || !strings.Contains(pages[1], "as commander") {
			t.Fatalf("want the backup paged at 1 minute and the commander at 2: %q", pages)
		}
		if len(alerts) != 1 || !strings.Contains(alerts[0], "+299 alerts (300 open)") || !strings.Contains(alerts[0], "*CRIT* · unacked") {
			t.Fatalf("one alert message for the group: %q", alerts)
		}
		if !strings.Contains(h.srv.Messages(h.srv.ChannelID())[1].Text, "— <@U0ALICE> (alice)") {
			t.Fatalf("the owner is mentioned when the alert fires: %q", h.srv.Messages(h.srv.ChannelID())[1].Text)
		}
		t.Logf("note in Slack %v after it was written; %d pages in 3 minutes: %q", notePosted.Sub(noteAt), len(pages), pages)
		h.noViolations()
	})
}

// TestBatchedEscalationUpdatesEveryGroup: four alert groups of one
// service wait unacked past escalation.backup; the engine escalates them
// to the backup in one ESCALATE (more than three groups to one person at
// once are batched). Every group's message is updated in place to say
// so, through the update lane; the ESCALATE posts nothing of its own (the
// PAGE is what mentions the person), and the cursor passes it only once
// every group's message shows it.
func TestBatchedEscalationUpdatesEveryGroup(t *testing.T) {
	inBubble(t, hopts{escalate: time.Minute}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		ids := h.fourGroups()
		h.drive(time.Minute, h.drained)
		if n := len(h.alertMsgs("fired: ")); n != len(ids) {
			t.Fatalf("%d alert messages for %d groups", n, len(ids))
		}
		updates := len(h.posts("chat.update"))
		h.heartbeats(time.Minute + time.Second)
		h.drive(time.Minute, h.drained)

		var esc []incident.Event
		for _, ev := range h.events() {
			if ev.Kind == incident.KindEscalate {
				esc = append(esc, ev)
			}
		}
		if len(esc) != 1 || len(esc[0].Alert.Also) != len(ids)-1 {
			t.Fatalf("want one ESCALATE for %d groups: %+v", len(ids), esc)
		}
		mark := fmt.Sprintf("`#%d`", esc[0].Seq)
		for _, id := range ids {
			msg := h.alertMsgs("`" + id + "`")
			if len(msg) != 1 || msg[0].Edits != 1 || !strings.Contains(msg[0].Text, mark) ||
				!strings.Contains(msg[0].Text, "escalated, paging <@U0BOB> (bob)") || !strings.Contains(firstLine(msg[0].Text), "paged <@U0BOB>") {
				for _, m := range msg {
					t.Logf("edits %d: %q", m.Edits, m.Text)
				}
				t.Fatalf("the message of %s does not show the escalation %s (%d messages)", id, mark, len(msg))
			}
		}
		if got := len(h.posts("chat.update")) - updates; got != len(ids) {
			t.Fatalf("%d chat.update calls for %d groups", got, len(ids))
		}
		for _, m := range h.srv.Messages(h.srv.ChannelID()) {
			if strings.Contains(m.Text, mark) && !isAlertMsg(m) && !isPage(m) {
				t.Fatalf("the ESCALATE was posted on its own: %q", m.Text)
			}
		}
		if pages := h.find("*PAGE*"); len(pages) != 1 || !strings.Contains(pages[0].Text, "<@U0BOB> (bob) you are paged") {
			t.Fatalf("want one page for bob: %+v", pages)
		}
		h.allDone()
	})
}

// TestBatchedEscalationSurvivesRestart: Slack takes two of the four
// updates a batched ESCALATE needs and rate-limits the rest; the mirror
// restarts. The cursor stayed before the ESCALATE, so the restarted
// mirror updates the two groups still waiting, and not the two that
// already show it.
func TestBatchedEscalationSurvivesRestart(t *testing.T) {
	o := hopts{escalate: time.Minute, sim: slacksim.Options{MethodLimits: map[string]slacksim.Limit{"chat.update": {Rate: 1.0 / 30, Burst: 2}}},
		config: func(c *config.Config) { c.Escalation.Commander = config.Duration(time.Hour) }}
	inBubble(t, o, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		h.fourGroups()
		h.drive(time.Minute, h.drained)
		h.heartbeats(time.Minute + time.Second)
		edited := func() (n int) {
			for _, m := range h.alertMsgs("fired: ") {
				if m.Edits > 1 {
					t.Fatalf("a group's message was updated %d times: %q", m.Edits, m.Text)
				}
				n += m.Edits
			}
			return n
		}
		if n := edited(); n != 2 {
			t.Fatalf("%d of 4 group messages updated before the restart, want 2 (Slack took two)", n)
		}
		h.stopMirror()
		h.heartbeats(30 * time.Second) // past Slack's Retry-After
		h.startMirror(o)
		h.drive(5*time.Minute, h.drained)
		if n := edited(); n != 4 {
			t.Fatalf("%d of 4 group messages updated after the restart", n)
		}
		h.allDone()
	})
}

// fourGroups fires four critical alerts of tokens, each of its own rule
// (so its own group), and returns their ids.
func (h *harness) fourGroups() []string {
	h.t.Helper()
	var xs []incident.ExternalAlert
	for i, rule := range []string{"DiskFull", "HighLatency", "ErrorRate", "QueueBacklog"} {
		xs = append(xs, incident.ExternalAlert{Key: fmt.Sprintf("k%d", i), Service: "tokens", Name: rule, Level: incident.LevelCrit,
			Firing: true, Text: rule + " on host-1", Rule: "alertname:" + rule})
	}
	var ids []string
	for _, ev := range h.do(incident.ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: xs}).Events {
		if ev.Kind == incident.KindAlert {
			ids = append(ids, ev.Alert.ID)
		}
	}
	return ids
}

// allDone: every event is in Slack, the durable cursor is at the end, and
// Slack saw no call it forbids.
func (h *harness) allDone() {
	h.t.Helper()
	last := h.j.LastSeq()
	h.checkTranscript(last)
	if cur, _ := h.j.Cursor(context.Background(), "slack"); cur != last {
		h.t.Fatalf("cursor %d, want %d", cur, last)
	}
	h.noViolations()
}

// eventTime reads the time of the first event a message carries
// ("`#304` 14:01:00Z ...").
func eventTime(text string) (time.Time, bool) {
	m := eventStamp.FindStringSubmatch(text)
	if m == nil {
		return time.Time{}, false
	}
	hms, err := time.Parse("15:04:05", m[1])
	if err != nil {
		return time.Time{}, false
	}
	return time.Date(t0.Year(), t0.Month(), t0.Day(), hms.Hour(), hms.Minute(), hms.Second(), 0, time.UTC), true
}

var eventStamp = regexp.MustCompile("`#\\d+` (\\d\\d:\\d\\d:\\d\\d)Z")

// The owner is mentioned once for a burst of alerts on their service (the
// first message of theirs in a minute; the others name them), and again
// after a minute; with escalation.owner the room pages them, so the
// messages only name them and the page mentions them.
func TestOwnerMentionedOncePerBurst(t *testing.T) {
	for _, ownerPages := range []bool{false, true} {
		inBubble(t, hopts{mirror: func(o *Options) { o.OwnerPages = ownerPages }}, func(t *testing.T, h *harness) {
			h.drive(time.Minute, h.drained)
			raise := func(text string) {
				h.do(incidenttest.Firing("tokens", incident.LevelCrit, text))
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
		})
	}
}

// After a restart, later events of a group's member alerts still update
// the group's message (its membership is restored from the message's
// outbox row), rather than becoming timeline lines.
func TestGroupMembershipSurvivesRestart(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
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
	})
}

// A group bigger than its message: the message shows its first lines and
// the group's state; every later event of its alerts is in a reply in the
// message's thread, sent when nothing else waits, so each event's #seq is
// in some Slack message and the channel still gets one message for the
// group. A restart while thread replies are queued loses and doubles
// nothing.
func TestBigGroupOverflowsIntoItsThread(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		const n = 100
		var xs []incident.ExternalAlert
		for i := range n {
			xs = append(xs, incident.ExternalAlert{Key: fmt.Sprintf("k%03d", i), Service: "tokens", Name: "DiskFull", Level: incident.LevelCrit,
				Firing: true, Text: fmt.Sprintf("disk 97%% on host-%03d", i), Rule: "alertname:DiskFull"})
		}
		h.do(incident.ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: xs})
		note := h.note("alice", "rotating the log volume on every host")
		replies := func() (n int) {
			for _, m := range h.srv.Messages(h.srv.ChannelID()) {
				if m.ThreadTS != "" {
					n++
				}
			}
			return n
		}
		// Stop once the first reply is in and more are queued.
		h.drive(5*time.Minute, func() bool {
			h.m.mu.Lock()
			defer h.m.mu.Unlock()
			return replies() >= 1 && len(h.m.thr) > 0
		})
		h.stopMirror()
		h.startMirror(hopts{})
		h.drive(5*time.Minute, h.drained)
		for i := range xs {
			xs[i].Firing = false
		}
		h.do(incident.ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: xs})
		h.drive(10*time.Minute, h.drained)

		msgs := h.srv.Messages(h.srv.ChannelID())
		var group slacksim.Message
		top, threaded, noteAt := 0, 0, -1
		for i, m := range msgs {
			if len(m.Text) > maxDigestChars {
				t.Fatalf("a message of %d characters (Slack advises at most 4,000): %.200q", len(m.Text), m.Text)
			}
			switch {
			case m.ThreadTS != "":
				threaded++
			case isAlertMsg(m):
				top++
				group = m
			}
			if slices.Contains(seqsIn(m.Text), note) {
				noteAt = i
			}
		}
		if top != 1 {
			t.Fatalf("%d alert messages in the channel for one group", top)
		}
		for _, m := range msgs {
			if m.ThreadTS != "" && m.ThreadTS != group.TS {
				t.Fatalf("a reply outside the group's thread: %q", firstLine(m.Text))
			}
		}
		if lines := strings.Count(group.Text, "\n`#"); lines > maxAlertLines || !strings.Contains(group.Text, "in the thread_") ||
			!strings.Contains(firstLine(group.Text), "RESOLVED") {
			t.Fatalf("the group's message (%d lines): %q", lines, group.Text)
		}
		if threaded < 4 || threaded > 12 {
			t.Fatalf("%d thread replies for %d events past the message", threaded, 2*n-maxAlertLines)
		}
		if noteAt < 0 || msgs[noteAt].ThreadTS != "" {
			t.Fatal("the note written during the storm is not a channel message")
		}
		for s, c := range h.checkTranscript(h.j.LastSeq()) {
			if c != 1 {
				t.Fatalf("event #%d is in %d messages", s, c)
			}
		}
		t.Logf("%d messages: 1 for the group, %d replies in its thread", len(msgs), threaded)
		h.noViolations()
	})
}

// A thread reply whose answer was lost is looked for in its thread
// (conversations.replies; conversations.history does not list replies)
// and found, not posted twice.
func TestLostThreadReplyIsFoundInItsThread(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		var xs []incident.ExternalAlert
		for i := range 30 {
			xs = append(xs, incident.ExternalAlert{Key: fmt.Sprintf("k%03d", i), Service: "tokens", Name: "DiskFull", Level: incident.LevelCrit,
				Firing: true, Text: fmt.Sprintf("disk 97%% on host-%03d", i), Rule: "alertname:DiskFull"})
		}
		// The group's message fills up.
		h.do(incident.ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: xs[:maxAlertLines]})
		h.drive(time.Minute, h.drained)
		// The next alerts go to the message's thread; the answer to that
		// thread reply is lost.
		h.srv.DropThreadReplies(1)
		h.do(incident.ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: xs})
		for range 4 {
			h.note("alice", "rotating logs")
		}
		h.drive(5*time.Minute, h.drained)
		asked, threaded := 0, 0
		for _, r := range h.srv.Requests() {
			if r.Method == "conversations.replies" {
				asked++
			}
		}
		for _, m := range h.srv.Messages(h.srv.ChannelID()) {
			if m.ThreadTS != "" {
				threaded++
			}
		}
		if asked == 0 || threaded != 1 {
			t.Fatalf("the lost thread reply: %d conversations.replies calls, %d replies in the thread", asked, threaded)
		}
		for s, c := range h.checkTranscript(h.j.LastSeq()) {
			if c != 1 {
				t.Fatalf("event #%d is in %d messages", s, c)
			}
		}
		h.noViolations()
	})
}
