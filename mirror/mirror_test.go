package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
	slacksim "github.com/warroom/warroom/sim/slack"
	"github.com/warroom/warroom/textsafe/hostile"
)

// find returns the channel's messages whose text contains s.
func (h *harness) find(s string) []slacksim.Message {
	var out []slacksim.Message
	for _, m := range h.srv.Messages(h.srv.ChannelID()) {
		if strings.Contains(m.Text, s) {
			out = append(out, m)
		}
	}
	return out
}

// alertMsgs are the alert messages (with blocks) whose text has s.
func (h *harness) alertMsgs(s string) []slacksim.Message {
	var out []slacksim.Message
	for _, m := range h.find(s) {
		if isAlertMsg(m) {
			out = append(out, m)
		}
	}
	return out
}

func hasButton(m slacksim.Message) bool { return strings.Contains(string(m.Blocks), ackAction) }

func TestTimelineAndAlertLifecycle(t *testing.T) {
	inBubble(t, hopts{escalate: 2 * time.Minute}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		root := h.srv.Messages(h.srv.ChannelID())
		if len(root) != 1 || !strings.HasPrefix(root[0].Text, "`#1` ") || !strings.Contains(root[0].Text, "*Incident declared:* airdrop launch") ||
			!strings.Contains(root[0].Text, "commander <@U0MAYA> (maya)") {
			t.Fatalf("root message: %+v", root)
		}

		// A note, a role change, a critical alert with an Ack button.
		n := h.note("alice", "DB connections at 90% of max_connections")
		h.do(incident.Assign{By: "maya", Role: roles.Scribe, Handle: "olga"})
		rep := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "p95 latency 2.3s > 1s"))
		id := rep.Events[0].Alert.ID
		h.do(incident.MarkImportant{By: "maya", Seq: n, Important: true})
		h.drive(time.Minute, h.drained)
		alert := h.alertMsgs("`" + id + "`")
		if len(alert) != 1 || !hasButton(alert[0]) || !strings.Contains(alert[0].Text, "*CRIT* · unacked") {
			t.Fatalf("alert message: %+v", alert)
		}
		if m := h.find("*NOTE* — *alice*: DB connections"); len(m) != 1 {
			t.Fatalf("note message: %+v", h.srv.Messages(h.srv.ChannelID()))
		}
		if m := h.find("olga is now scribe <@U0OLGA> (olga)"); len(m) != 1 {
			t.Fatalf("role message missing: %+v", h.srv.Messages(h.srv.ChannelID()))
		}
		if m := h.find(":star: *IMPORTANT*"); len(m) != 1 {
			t.Fatal("important event not flagged")
		}

		// Unacked for 2 minutes: the backup is paged, by mention, and the
		// alert's message says so (updated in place).
		h.clk.Advance(2*time.Minute + time.Second)
		h.waitFor("escalation", func() bool { return h.eng.Roster() != nil && len(h.find("*PAGE*")) == 1 })
		page := h.find("*PAGE*")[0]
		if !strings.Contains(page.Text, "<@U0BOB> (bob) you are paged") {
			t.Fatalf("page does not mention bob: %q", page.Text)
		}
		if !strings.Contains(page.Text, "`"+id+"` "+incidenttest.Origin+": p95 latency") || len(seqsIn(page.Text)) != 2 {
			t.Fatalf("page does not name the alert and its escalation: %q", page.Text)
		}
		h.drive(time.Minute, h.drained)
		alert = h.alertMsgs("`" + id + "`")
		if len(alert) != 1 || alert[0].Edits != 1 || !strings.Contains(alert[0].Text, "escalated, paging <@U0BOB> (bob)") {
			t.Fatalf("alert not updated with the escalation: %+v", alert)
		}

		// Acked, then resolved: the same message, updated; the button goes.
		h.do(incident.Ack{By: "alice", AlertID: id})
		h.drive(time.Minute, h.drained)
		alert = h.alertMsgs("`" + id + "`")
		if len(alert) != 1 || alert[0].Edits != 2 || hasButton(alert[0]) || !strings.Contains(alert[0].Text, "acked by alice") {
			t.Fatalf("alert not updated with the ack: %+v", alert)
		}
		h.do(incident.Resolve{By: "alice", AlertID: id, Reason: "pool raised"})
		h.drive(time.Minute, h.drained)
		alert = h.alertMsgs("`" + id + "`")
		if len(alert) != 1 || alert[0].Edits != 3 || !strings.Contains(firstLine(alert[0].Text), "*RESOLVED*") {
			t.Fatalf("alert not updated with the resolve: %+v", alert)
		}
		last := h.j.LastSeq()
		counts := h.checkTranscript(last)
		for s, n := range counts {
			if n > 1 {
				t.Fatalf("event #%d appears %d times", s, n)
			}
		}
		h.noViolations()
		// Every request used the channel ID and form encoding slack-go sends.
		for _, r := range h.srv.Requests() {
			if r.Status != 200 {
				t.Fatalf("request failed: %+v", r)
			}
		}
		st := h.m.Status()
		if st.State != StateOK || st.Lag != 0 || st.Pending != 0 || st.Uncertain != 0 {
			t.Fatalf("status: %+v", st)
		}
		cur, _ := h.j.Cursor(context.Background(), "slack")
		if cur != last {
			t.Fatalf("cursor %d, want %d", cur, last)
		}
	})
}

func TestEscaping(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		hostile := []string{
			"<!channel> everyone look",
			"<!here|here> and <!everyone>",
			"ping <@U123> and <#C999>",
			"<http://evil.example|click here for the fix>",
			"fees & tips > 5 < 10",
		}
		for _, s := range hostile {
			h.note("alice", s)
		}
		h.do(incidenttest.Firing("tokens", incident.LevelCrit, "label <!channel> & <@U0MAYA>"))
		h.drive(time.Minute, h.drained)
		var all strings.Builder
		msgs := h.srv.Messages(h.srv.ChannelID())
		// The root message mentions the commander. A crit alert may jump the
		// queue ahead of it, so it is found by what it says; the notes may be
		// in it too (a mirror that starts late posts them in one message), so
		// only the mirror's own mention is left out of what is checked.
		const own = "commander <@U0MAYA> (maya)"
		root := slices.IndexFunc(msgs, func(m slacksim.Message) bool { return strings.Contains(m.Text, "Incident declared") })
		if root < 0 || !strings.Contains(msgs[root].Text, own) {
			t.Fatal("the mirror's own mention is missing")
		}
		for i, m := range msgs {
			if i == root {
				m.Text = strings.Replace(m.Text, own, "", 1)
			}
			all.WriteString(m.Text)
			all.Write(m.Blocks)
			all.WriteByte('\n')
		}
		text := all.String()
		// Slack links the bare URL (as it stores any URL), but no label can
		// hide it: no <url|label> link forms.
		for _, bad := range []string{"<!channel>", "<!here", "<!everyone>", "<@U123>", "<#C999>", "<http://evil.example|", "<@U0MAYA>"} {
			if strings.Contains(text, bad) {
				t.Fatalf("%q reached Slack unescaped:\n%s", bad, text)
			}
		}
		for _, good := range []string{"&lt;!channel&gt; everyone look", "ping &lt;@U123&gt;", "&lt;<http://evil.example>|click here for the fix&gt;",
			"fees &amp; tips &gt; 5 &lt; 10", "label &lt;!channel&gt; &amp; &lt;@U0MAYA&gt;"} {
			if !strings.Contains(text, good) {
				t.Fatalf("want %q in:\n%s", good, text)
			}
		}
		if got := Escape("a&b<c>d"); got != "a&amp;b&lt;c&gt;d" {
			t.Fatalf("Escape: %q", got)
		}
		// A roster Slack ID that is not one cannot smuggle a mention.
		f := &formatter{roster: roles.NewRoster(nil)}
		if got := f.mention("nobody"); got != "nobody" {
			t.Fatalf("mention of an unknown handle: %q", got)
		}
	})
}

// TestHostileBytesNeverReachSlack: escape sequences, controls and bidi
// characters in notes and alert text are made visible before posting.
func TestHostileBytesNeverReachSlack(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		for _, s := range hostile.Corpus {
			s = strings.ToValidUTF8(s, "?") // the engine refuses invalid UTF-8 in notes
			h.note("alice", s)
			h.do(incidenttest.Firing("tokens", incident.LevelCrit, s))
		}
		h.drive(time.Minute, h.drained)
		msgs := h.srv.Messages(h.srv.ChannelID())
		if len(msgs) < 2 {
			t.Fatalf("%d messages", len(msgs))
		}
		for _, m := range msgs {
			if bad := hostile.Find([]byte(m.Text)); bad != "" {
				t.Errorf("Slack text: %s", bad)
			}
			var blocks any // decoded: \u001b in the JSON would be ESC on screen
			if len(m.Blocks) > 0 {
				if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
					t.Fatal(err)
				}
			}
			if bad := hostile.Find([]byte(fmt.Sprint(blocks))); bad != "" {
				t.Errorf("Slack blocks: %s", bad)
			}
		}
	})
}

func TestLostReplyIsUncertainThenReconciled(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)

		// The reply to a post that Slack applied is lost: the message is
		// uncertain, found again in the history, and not posted twice.
		h.srv.DropReplies(1)
		s1 := h.note("alice", "reply lost")
		h.drive(time.Minute, func() bool { return h.m.Status().Uncertain == 1 })
		h.drive(time.Minute, h.drained)
		if n := len(h.find("reply lost")); n != 1 {
			t.Fatalf("a message whose reply was lost appears %d times", n)
		}
		if st := h.m.Status(); st.Uncertain != 0 {
			t.Fatalf("still uncertain: %+v", st)
		}

		// The request itself is lost (never applied): the history does not
		// have it, so it is posted again, marked as a possible duplicate.
		h.srv.DropRequests(1)
		s2 := h.note("alice", "request lost")
		h.drive(time.Minute, h.drained)
		m := h.find("request lost")
		if len(m) != 1 || !strings.Contains(m[0].Text, "posted again") {
			t.Fatalf("lost request not re-posted: %+v", m)
		}
		rows, err := h.j.SlackMessages(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		flagged := map[int64]bool{}
		for _, r := range rows {
			if r.State != journal.SlackDelivered {
				t.Fatalf("row %d is %s", r.ID, r.State)
			}
			if r.WasUncertain {
				for _, s := range r.Seqs {
					flagged[s] = true
				}
			}
		}
		if !flagged[s1] || !flagged[s2] || len(flagged) != 2 {
			t.Fatalf("uncertain rows: %v", flagged)
		}
		h.checkTranscript(h.j.LastSeq())
		h.noViolations()
	})
}

func TestStopsOnAuthAndChannelErrors(t *testing.T) {
	cases := []struct {
		code  string
		setup func(h *harness)
		opts  func(o *Options)
	}{
		{"invalid_auth", nil, func(o *Options) { o.BotToken = "xoxb-999-wrong-token" }},
		{"token_revoked", func(h *harness) { h.srv.RevokeToken(botToken, "token_revoked") }, nil},
		{"account_inactive", func(h *harness) { h.srv.RevokeToken(botToken, "account_inactive") }, nil},
		{"channel_not_found", nil, func(o *Options) { o.Channel = "C0NOSUCH" }},
		{"not_in_channel", func(h *harness) {
			h.srv.SetChannel(slacksim.Channel{ID: "C0WARROOM", Name: "warroom", NotMember: true})
		}, nil},
		{"is_archived", func(h *harness) { h.srv.SetChannel(slacksim.Channel{ID: "C0WARROOM", Name: "warroom", Archived: true}) }, nil},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			inBubble(t, hopts{noStart: true, mirror: c.opts}, func(t *testing.T, h *harness) {
				if c.setup != nil {
					c.setup(h)
				}
				h.startMirror(hopts{mirror: c.opts})
				h.note("alice", "will not get through")
				h.drive(time.Minute, func() bool { return h.m.Status().State == StateStopped })
				st := h.m.Status()
				if !strings.Contains(st.Err, c.code) {
					t.Fatalf("status does not say why: %+v", st)
				}
				// Recorded in the timeline, with the reason.
				h.waitFor("MIRROR event", func() bool {
					for _, ev := range h.events() {
						if ev.Kind == incident.KindMirror && strings.Contains(ev.Text, "Slack mirror stopped: "+c.code) {
							return true
						}
					}
					return false
				})
				// Stopped means stopped: nothing more is sent.
				n := len(h.srv.Requests())
				h.note("alice", "still queued")
				h.heartbeats(10 * time.Minute)
				if got := len(h.srv.Requests()); got != n {
					t.Fatalf("%d requests after the stop", got-n)
				}
				if st := h.m.Status(); st.Lag < 3 {
					t.Fatalf("events not counted as queued: %+v", st)
				}
			})
		})
	}
}

func TestResumeAfterFix(t *testing.T) {
	inBubble(t, hopts{noStart: true}, func(t *testing.T, h *harness) {
		h.srv.SetChannel(slacksim.Channel{ID: "C0WARROOM", Name: "warroom", NotMember: true})
		h.startMirror(hopts{})
		h.note("alice", "queued while the bot was not invited")
		h.drive(time.Minute, func() bool { return h.m.Status().State == StateStopped })
		h.srv.SetChannel(slacksim.Channel{ID: "C0WARROOM", Name: "warroom"})
		h.m.Resume()
		h.drive(5*time.Minute, h.drained)
		if len(h.find("queued while the bot was not invited")) != 1 {
			t.Fatal("queued event not delivered after Resume")
		}
		h.checkTranscript(h.j.LastSeq())
	})
}

func TestRestartResumesFromCursor(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "NAT port allocation errors")).Events[0].Alert.ID
		for i := 0; i < 20; i++ {
			h.note("bob", "before restart")
		}
		// Send a little, then stop mid-backlog.
		h.drive(time.Minute, func() bool { return h.m.Status().Lag < 15 })
		h.stopMirror()
		for i := 0; i < 10; i++ {
			h.note("bob", "while the mirror was stopped")
		}
		h.do(incident.Ack{By: "alice", AlertID: id})
		h.startMirror(hopts{})
		h.drive(5*time.Minute, h.drained)
		counts := h.checkTranscript(h.j.LastSeq())
		for s, n := range counts {
			if n != 1 {
				t.Fatalf("event #%d appears %d times after a clean restart", s, n)
			}
		}
		a := h.find("`" + id + "`")
		if len(a) != 1 || !strings.Contains(a[0].Text, "acked by alice") {
			t.Fatalf("the restarted mirror did not update the alert's message: %+v", a)
		}
		h.noViolations()
	})
}

func TestDigestLimits(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		long := strings.Repeat("x", incident.MaxNoteLen-10)
		for i := 0; i < 200; i++ {
			h.note("alice", long)
		}
		h.drive(10*time.Minute, h.drained)
		digests := 0
		for _, m := range h.srv.Messages(h.srv.ChannelID()) {
			if len(m.Text) > maxMessageText || len(m.Text) >= slacksim.MaxTextLen/2 {
				t.Fatalf("message of %d chars (keep well under Slack's %d)", len(m.Text), slacksim.MaxTextLen)
			}
			if strings.Contains(m.Text, "*Catching up*") {
				digests++
			}
		}
		if digests == 0 {
			t.Fatal("no digest under a backlog")
		}
		h.checkTranscript(h.j.LastSeq())
	})
}

func TestOutboxRowsRoundTrip(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.do(incidenttest.Firing("tokens", incident.LevelWarn, "latency"))
		h.drive(time.Minute, h.drained)
		rows, err := h.j.SlackMessages(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var alert *journal.SlackMessage
		for i := range rows {
			if rows[i].Kind == kindAlert {
				alert = &rows[i]
			}
			if rows[i].TS == "" || rows[i].State != journal.SlackDelivered {
				t.Fatalf("row not delivered: %+v", rows[i])
			}
		}
		if alert == nil {
			t.Fatal("no alert row")
		}
		var model alertModel
		if err := json.Unmarshal(alert.Body, &model); err != nil || model.ID != alert.AlertID || len(model.Seqs) != 1 {
			t.Fatalf("alert model: %+v %v", model, err)
		}
		if got, _ := journal.ParseSeqs(journal.FormatSeqs([]int64{9, 1, 2, 3, 5, 7, 8})); len(got) != 7 || got[0] != 1 || got[6] != 9 {
			t.Fatalf("seq list round trip: %v", got)
		}
		if journal.FormatSeqs([]int64{1, 2, 3, 5, 7, 8, 9}) != "1-3,5,7-9" {
			t.Fatal(journal.FormatSeqs([]int64{1, 2, 3, 5, 7, 8, 9}))
		}
	})
}

// TestUncertainAlertWaitsForTheCheck: the reply to an alert's post is
// lost; its ack waits for the history check and then updates the found
// message, instead of also going to the timeline (and showing twice).
func TestUncertainAlertWaitsForTheCheck(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		h.srv.DropReplies(1)
		id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "NAT port allocation errors")).Events[0].Alert.ID
		h.drive(time.Minute, func() bool { return h.m.Status().Uncertain == 1 })
		ack := h.do(incident.Ack{By: "alice", AlertID: id}).Seq
		h.drive(time.Minute, h.drained)
		a := h.find("`" + id + "`")
		if len(a) != 1 || !strings.Contains(a[0].Text, "acked by alice") || hasButton(a[0]) {
			t.Fatalf("alert message after the check: %+v", a)
		}
		counts := h.checkTranscript(h.j.LastSeq())
		if counts[ack] != 1 {
			t.Fatalf("the ack shows %d times", counts[ack])
		}
	})
}

// TestUncertainWithoutReconciliation: with history checks off, a message
// whose reply was lost is marked uncertain and never posted again.
func TestUncertainWithoutReconciliation(t *testing.T) {
	inBubble(t, hopts{mirror: func(o *Options) { o.ReconcileAfter = -1 }}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		h.srv.DropReplies(1)
		h.note("alice", "reply lost")
		h.note("alice", "after it")
		h.drive(time.Minute, h.drained)
		if st := h.m.Status(); st.Uncertain != 1 {
			t.Fatalf("status: %+v", st)
		}
		if n := len(h.find("reply lost")); n != 1 {
			t.Fatalf("posted %d times", n)
		}
		for _, r := range h.srv.Requests() {
			if r.Method == "conversations.history" {
				t.Fatal("history read with reconciliation off")
			}
		}
	})
}

// TestLostReplyWithURL: Slack stores a bare URL as <http://x>, so the
// history never repeats a message with a URL word for word. After a lost
// reply, the note (and an alert) with a URL in its first line is found by
// its #seq marker, not posted twice.
func TestLostReplyWithURL(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		h.srv.DropReplies(2)
		n := h.note("alice", "runbook https://wiki.example/rpc-lag?p=1&q=2, <rebalancing> & waiting")
		id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "lag, see http://dash.example/triton")).Events[0].Alert.ID
		h.drive(time.Minute, func() bool { return h.m.Status().Uncertain == 2 })
		h.drive(time.Minute, h.drained)
		notes := h.find("wiki.example")
		if len(notes) != 1 || !strings.Contains(notes[0].Text, "<https://wiki.example/rpc-lag?p=1&amp;q=2>, &lt;rebalancing&gt; &amp; waiting") {
			t.Fatalf("note with a URL: %+v", notes)
		}
		if a := h.find("`" + id + "`"); len(a) != 1 || !strings.Contains(a[0].Text, "<http://dash.example/triton>") {
			t.Fatalf("alert with a URL: %+v", a)
		}
		if len(h.find("posted again")) != 0 {
			t.Fatal("a message was posted again")
		}
		if st := h.m.Status(); st.Uncertain != 0 {
			t.Fatalf("still uncertain: %+v", st)
		}
		counts := h.checkTranscript(h.j.LastSeq())
		if counts[n] != 1 {
			t.Fatalf("the note shows %d times", counts[n])
		}
	})
}

// TestNormalisedMatch: what the mirror sent and what Slack stored compare
// equal once links and entities are normalised; different events do not.
func TestNormalisedMatch(t *testing.T) {
	cases := []struct {
		sent, stored string
		same         bool
	}{
		{"`#5` note http://x.example/a", "`#5` note <http://x.example/a>", true},
		{"`#5` see example.com &amp; more", "`#5` see <http://example.com|example.com> &amp; more", true},
		{"`#5` a", "`#6` a", false},
		{":package: *Catching up* — 2 events, #5 to #6\n`#5` a\n`#6` b", ":package: *Catching up* — 2 events, #5 to #6\n`#5` a\n`#6` <http://b>", true},
		{"no marker http://y", "no marker <http://y>", true},
		{"no marker", "`#1` no marker", false},
	}
	for _, c := range cases {
		if got := sameMessage(c.sent, c.stored); got != c.same {
			t.Errorf("sameMessage(%q, %q) = %v", c.sent, c.stored, got)
		}
	}
}

// TestRefusedContent: Slack refuses a message itself. The mirror sends it
// plainer (no blocks), then as a stub naming its event, and goes on; the
// outbox row says what Slack refused.
func TestRefusedContent(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		h.srv.FailNext("chat.postMessage", "invalid_blocks")
		id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "RPC lag")).Events[0].Alert.ID
		h.drive(time.Minute, h.drained)
		if a := h.find("`" + id + "`"); len(a) != 1 || len(a[0].Blocks) != 0 {
			t.Fatalf("alert not posted plainly: %+v", a)
		}
		h.srv.FailNext("chat.postMessage", "msg_too_long")
		bad := h.note("alice", "refused once")
		h.note("alice", "next one")
		h.drive(time.Minute, h.drained)
		if len(h.find("refused once")) != 0 || len(h.find(fmt.Sprintf("`#%d` _(Slack refused this message: msg_too_long", bad))) != 1 || len(h.find("next one")) != 1 {
			t.Fatal("the refused note is not a stub, or the mirror did not move on")
		}
		rows, _ := h.j.SlackMessages(context.Background())
		stub := false
		for _, r := range rows {
			if r.State == journal.SlackDelivered && r.Error == "msg_too_long" && r.Seq == bad {
				stub = true
			}
		}
		if !stub {
			t.Fatalf("no stub row for #%d: %+v", bad, rows)
		}
	})
}

// TestPublicUpdateHasItsOwnStyle: a published public update is a message
// of its own (never folded into a digest, even in a backlog), the text as
// customers read it quoted line by line and escaped, with who wrote and
// approved it.
func TestPublicUpdateHasItsOwnStyle(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		for i := range 20 {
			h.note("alice", fmt.Sprintf("backlog note %d", i))
		}
		seq := h.do(incident.SubmitUpdate{By: "maya", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating,
			Body: "We are investigating slow claims <!channel>.\nYour tokens are safe.", Notify: true}}).Seq
		h.drive(time.Minute, h.drained)
		var found *slacksim.Message
		msgs := h.srv.Messages(h.srv.ChannelID())
		for i, m := range msgs {
			if strings.Contains(m.Text, fmt.Sprintf("`#%d`", seq-1)) {
				found = &msgs[i]
			}
		}
		if found == nil {
			t.Fatalf("no message carries the update #%d", seq-1)
		}
		want := ":mega: *UPDATE* — *PUBLIC UPDATE U"
		if !strings.Contains(found.Text, want) || !strings.Contains(found.Text, "— Investigating* · \"Slow claims\" · subscribers notified\n> We are investigating slow claims &lt;!channel&gt;.\n> Your tokens are safe.\n_by maya_") {
			t.Fatalf("update message:\n%s", found.Text)
		}
		if strings.Contains(found.Text, "Catching up") || strings.Contains(found.Text, "backlog note") {
			t.Fatalf("the update was folded into a digest:\n%s", found.Text)
		}
		rows, _ := h.j.SlackMessages(context.Background())
		kinds := map[string]int{}
		for _, r := range rows {
			kinds[r.Kind]++
		}
		if kinds[kindPublic] != 1 {
			t.Fatalf("row kinds %v", kinds)
		}
	})
}
