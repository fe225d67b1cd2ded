package slack_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/warroom/warroom/clock"
	slacksim "github.com/warroom/warroom/sim/slack"
)

const (
	bot = "xoxb-test-0000-bot-token"
	app = "xapp-test-0000-app-token"
)

var t0 = time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)

func start(t *testing.T, o slacksim.Options) (*slacksim.Server, *slack.Client) {
	t.Helper()
	o.BotToken, o.AppToken = bot, app
	s := slacksim.New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	api := slack.New(bot, slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(app),
		slack.OptionHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	return s, api
}

func TestPostUpdateReadBack(t *testing.T) {
	clk := clock.NewFake(t0)
	var tr bytes.Buffer
	s, api := start(t, slacksim.Options{Clock: clk, Transcript: &tr})
	ch := s.ChannelID()
	if _, err := api.AuthTest(); err != nil {
		t.Fatal(err)
	}
	btn := slack.NewButtonBlockElement("ack", "A1", slack.NewTextBlockObject("plain_text", "Ack", false, false))
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*CRIT* tokens", false, false), nil, nil),
		slack.NewActionBlock("acts", btn),
	}
	c, ts1, err := api.PostMessage(ch, slack.MsgOptionText("first &lt;!channel&gt;", false), slack.MsgOptionBlocks(blocks...))
	if err != nil || c != ch {
		t.Fatalf("post: %v %q", err, c)
	}
	_, ts2, err := api.PostMessage(ch, slack.MsgOptionText("second", false))
	if err != nil {
		t.Fatal(err)
	}
	if !(ts2 > ts1) || len(ts1) != len("1769868000.000000") || !strings.Contains(ts1, ".") {
		t.Fatalf("ts not Slack-like and increasing: %q %q", ts1, ts2)
	}
	if _, _, _, err := api.UpdateMessage(ch, ts1, slack.MsgOptionText("first, acked", false)); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages(ch)
	if len(msgs) != 2 || msgs[0].Text != "first, acked" || msgs[0].Edits != 1 || len(msgs[0].Blocks) == 0 {
		t.Fatalf("read back: %+v", msgs)
	}
	// Reading back through the API, newest first, paginated.
	for i := 0; i < 5; i++ {
		api.PostMessage(ch, slack.MsgOptionText("more", false)) //nolint:errcheck
	}
	clk.Advance(time.Minute) // let the bucket refill
	h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 3 || !h.HasMore || h.ResponseMetaData.NextCursor == "" {
		t.Fatalf("history page 1: %d more=%v cursor=%q", len(h.Messages), h.HasMore, h.ResponseMetaData.NextCursor)
	}
	var all []string
	cur := ""
	for {
		h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 2, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range h.Messages {
			all = append(all, m.Timestamp)
		}
		if !h.HasMore {
			break
		}
		cur = h.ResponseMetaData.NextCursor
	}
	if n := len(s.Messages(ch)); len(all) != n || all[len(all)-1] != ts1 {
		t.Fatalf("paginated history has %d of %d messages, last %q", len(all), n, all[len(all)-1])
	}
	// Update errors.
	_, _, _, err = api.UpdateMessage(ch, "1.000001", slack.MsgOptionText("x", false))
	if !isSlackErr(err, "message_not_found") {
		t.Fatalf("want message_not_found, got %v", err)
	}
	uts, _ := s.AddUserMessage(ch, "U1", "a person wrote this")
	_, _, _, err = api.UpdateMessage(ch, uts, slack.MsgOptionText("x", false))
	if !isSlackErr(err, "cant_update_message") {
		t.Fatalf("want cant_update_message, got %v", err)
	}
	if _, err := api.PostEphemeral(ch, "U1", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	if e := s.Ephemerals("U1"); len(e) != 1 || e[0].Text != "only you" {
		t.Fatalf("ephemerals: %+v", e)
	}
	if !strings.Contains(tr.String(), "first, acked") || !strings.Contains(tr.String(), "ephemeral") {
		t.Fatalf("transcript lacks posts:\n%s", tr.String())
	}
	var dump bytes.Buffer
	if err := s.Dump(&dump); err != nil || !strings.Contains(dump.String(), "(edited 1×)") || !strings.Contains(dump.String(), "    first, acked") {
		t.Fatalf("dump: %v\n%s", err, dump.String())
	}
	if b, a := slacksim.NewTokens(); !strings.HasPrefix(b, "xoxb-") || !strings.HasPrefix(a, "xapp-") || b == a {
		t.Fatalf("tokens %q %q", b, a)
	}
}

func isSlackErr(err error, code string) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && se.Err == code
}

func TestAuthAndChannelErrors(t *testing.T) {
	s, api := start(t, slacksim.Options{Channels: []slacksim.Channel{
		{ID: "C1", Name: "one"}, {ID: "C2", Name: "archived", Archived: true}, {ID: "C3", Name: "private", NotMember: true},
	}})
	bad := slack.New("xoxb-wrong-token-123", slack.OptionAPIURL(s.APIURL()))
	if _, _, err := bad.PostMessage("C1", slack.MsgOptionText("x", false)); !isSlackErr(err, "invalid_auth") {
		t.Fatalf("want invalid_auth, got %v", err)
	}
	none := slack.New("", slack.OptionAPIURL(s.APIURL()))
	if _, err := none.AuthTest(); !isSlackErr(err, "not_authed") {
		t.Fatalf("want not_authed, got %v", err)
	}
	for ch, code := range map[string]string{"C9": "channel_not_found", "C2": "is_archived", "C3": "not_in_channel"} {
		if _, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false)); !isSlackErr(err, code) {
			t.Fatalf("%s: want %s, got %v", ch, code, err)
		}
	}
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText(strings.Repeat("x", 40001), false)); !isSlackErr(err, "msg_too_long") {
		t.Fatalf("want msg_too_long, got %v", err)
	}
	s.RevokeToken(bot, "token_revoked")
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false)); !isSlackErr(err, "token_revoked") {
		t.Fatalf("want token_revoked, got %v", err)
	}
}

func TestRateLimitsAndViolations(t *testing.T) {
	clk := clock.NewFake(t0)
	s, api := start(t, slacksim.Options{Clock: clk, PostLimit: slacksim.Limit{Rate: 1, Burst: 2}})
	ch := s.ChannelID()
	for i := 0; i < 2; i++ {
		if _, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false)); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("want RateLimitedError{1s}, got %v", err)
	}
	// Too early: recorded as a violation (and limited again).
	api.PostMessage(ch, slack.MsgOptionText("x", false)) //nolint:errcheck
	if v := s.Violations(); len(v) != 1 || !strings.Contains(v[0], "before the Retry-After") {
		t.Fatalf("violations: %v", v)
	}
	clk.Advance(2 * time.Second)
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false)); err != nil {
		t.Fatal(err)
	}
	// A scripted storm, and a 429 without Retry-After.
	s.Storm(clk.Now().Add(time.Minute), 30*time.Second)
	_, _, err = api.PostMessage(ch, slack.MsgOptionText("x", false))
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Fatalf("storm: want 30s, got %v", err)
	}
	clk.Advance(30 * time.Second)
	s.OmitRetryAfter(1)
	_, _, err = api.PostMessage(ch, slack.MsgOptionText("x", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 429 {
		t.Fatalf("want StatusCodeError 429, got %v", err)
	}
	clk.Advance(time.Minute)
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("after", false)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Violations()); n != 1 {
		t.Fatalf("want still 1 violation, got %v", s.Violations())
	}
	reqs := s.Requests()
	if reqs[len(reqs)-1].Status != 200 || reqs[2].Status != 429 || reqs[2].RetryAfter != time.Second {
		t.Fatalf("requests not recorded: %+v", reqs)
	}
}

func TestOutagesAndLostReplies(t *testing.T) {
	clk := clock.NewFake(t0)
	s, api := start(t, slacksim.Options{Clock: clk, PostLimit: slacksim.Limit{Rate: 100, Burst: 100}})
	ch := s.ChannelID()
	s.Fail(clk.Now().Add(time.Minute), 503)
	_, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 503 {
		t.Fatalf("want 503, got %v", err)
	}
	clk.Advance(time.Minute)
	if err := s.SetRefusing(true); err != nil {
		t.Fatal(err)
	}
	_, _, err = api.PostMessage(ch, slack.MsgOptionText("x", false))
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want connection refused, got %v", err)
	}
	if err := s.SetRefusing(false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("back", false)); err != nil {
		t.Fatalf("after refusing: %v", err)
	}
	s.DropReplies(1)
	_, _, err = api.PostMessage(ch, slack.MsgOptionText("applied, reply lost", false))
	if err == nil {
		t.Fatal("want an error for a lost reply")
	}
	if m := s.Messages(ch); m[len(m)-1].Text != "applied, reply lost" {
		t.Fatalf("dropped reply was not applied: %+v", m[len(m)-1])
	}
	s.DropRequests(1)
	n := len(s.Messages(ch))
	if _, _, err = api.PostMessage(ch, slack.MsgOptionText("never arrives", false)); err == nil {
		t.Fatal("want an error for a lost request")
	}
	if len(s.Messages(ch)) != n {
		t.Fatal("a lost request was applied")
	}
}

func TestSocketMode(t *testing.T) {
	s, api := start(t, slacksim.Options{Users: []slacksim.User{{ID: "U1", Name: "alice"}}, PingInterval: 200 * time.Millisecond})
	ch := s.ChannelID()
	btn := slack.NewButtonBlockElement("warroom_ack", "A7", slack.NewTextBlockObject("plain_text", "Ack", false, false))
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("alert", false), slack.MsgOptionBlocks(slack.NewActionBlock("b1", btn))); err != nil {
		t.Fatal(err)
	}
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sm.RunContext(ctx) }() //nolint:errcheck
	var mu sync.Mutex
	var seen []string
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				switch evt.Type {
				case socketmode.EventTypeSlashCommand:
					cmd := evt.Data.(slack.SlashCommand)
					mu.Lock()
					seen = append(seen, cmd.UserID+" "+cmd.Command+" "+cmd.Text+" "+cmd.UserName)
					mu.Unlock()
					sm.Ack(*evt.Request, map[string]any{"text": "got " + cmd.Text}) //nolint:errcheck
				case socketmode.EventTypeInteractive:
					cb := evt.Data.(slack.InteractionCallback)
					a := cb.ActionCallback.BlockActions[0]
					mu.Lock()
					seen = append(seen, string(cb.Type)+" "+cb.User.ID+" "+a.ActionID+" "+a.Value+" "+cb.Container.ChannelID)
					mu.Unlock()
					sm.Ack(*evt.Request) //nolint:errcheck
				}
			}
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := s.WaitFor(wctx, func() bool { return s.Connections() > 0 }); err != nil {
		t.Fatal("socket mode client never connected")
	}
	a, err := s.InjectSlash("U1", "ack tokens")
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != "got ack tokens" {
		t.Fatalf("ack payload %q", a.Payload)
	}
	if e := s.Ephemerals("U1"); len(e) != 1 || e[0].Source != "slash response" {
		t.Fatalf("slash response not recorded: %+v", e)
	}
	if _, err := s.ClickButton("U1", "warroom_ack", "A7"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClickButton("U1", "warroom_ack", "A8"); err == nil {
		t.Fatal("clicked a button that does not exist")
	}
	// Pings keep the client alive past its ping interval check.
	time.Sleep(600 * time.Millisecond)
	mu.Lock()
	got := strings.Join(seen, "|")
	mu.Unlock()
	if got != "U1 /warroom ack tokens alice|block_actions U1 warroom_ack A7 "+ch {
		t.Fatalf("client saw %q", got)
	}
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
	cancel()
	wg.Wait()
}

func TestMissingAckIsAViolation(t *testing.T) {
	s, api := start(t, slacksim.Options{AckTimeout: 200 * time.Millisecond})
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sm.RunContext(ctx) //nolint:errcheck
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sm.Events: // never acks
			}
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := s.WaitFor(wctx, func() bool { return s.Connections() > 0 }); err != nil {
		t.Fatal("no connection")
	}
	if _, err := s.InjectSlash("U1", "status"); err == nil {
		t.Fatal("want an error for an unacked envelope")
	}
	if v := s.Violations(); len(v) != 1 || !strings.Contains(v[0], "not acked") {
		t.Fatalf("violations: %v", v)
	}
}

func TestListensOnLoopbackOnly(t *testing.T) {
	s := slacksim.New(slacksim.Options{Addr: "0.0.0.0:0"})
	if err := s.Start(); err == nil {
		s.Close()
		t.Fatal("listened on a non-loopback address")
	}
}

func TestBoundedLogs(t *testing.T) {
	s, api := start(t, slacksim.Options{MaxMessages: 10, MaxRequests: 20, PostLimit: slacksim.Limit{Rate: 1000, Burst: 1000}})
	for i := 0; i < 50; i++ {
		if _, _, err := api.PostMessage(s.ChannelID(), slack.MsgOptionText(strings.Repeat("x", i+1), false)); err != nil {
			t.Fatal(err)
		}
	}
	m := s.Messages(s.ChannelID())
	if len(m) > 10 || len(m[len(m)-1].Text) != 50 {
		t.Fatalf("kept %d messages, newest %d chars", len(m), len(m[len(m)-1].Text))
	}
	if n := len(s.Requests()); n > 20 {
		t.Fatalf("kept %d requests", n)
	}
}

// TestDocumentedCodes: every code Slack documents for a method can be
// scripted and reaches slack-go as real Slack sends it: ratelimited as an
// HTTP 429 with Retry-After (a *RateLimitedError), every other code in an
// HTTP 200 body (a SlackErrorResponse). An undocumented code is refused.
func TestDocumentedCodes(t *testing.T) {
	clk := clock.NewFake(t0)
	s, api := start(t, slacksim.Options{Clock: clk, DefaultRetryAfter: 7 * time.Second})
	ch := s.ChannelID()
	codes := append(append([]string(nil), slacksim.MethodErrors["chat.postMessage"]...), slacksim.CommonErrors...)
	for _, code := range codes {
		s.FailNext("chat.postMessage", code)
		_, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false))
		var rl *slack.RateLimitedError
		var se slack.SlackErrorResponse
		switch {
		case code == "ratelimited":
			if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
				t.Fatalf("%s: %v", code, err)
			}
			clk.Advance(7 * time.Second)
		case !errors.As(err, &se) || se.Err != code:
			t.Fatalf("%s: %v", code, err)
		}
		clk.Advance(2 * time.Second) // stay under the post limit
	}
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
	s.FailNext("chat.update", "rate_limited")
	if _, _, _, err := api.UpdateMessage(ch, "1.1", slack.MsgOptionText("x", false)); err == nil || err.Error() != "rate_limited" {
		t.Fatalf("update: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an undocumented code was accepted")
		}
	}()
	s.FailNext("chat.update", "msg_not_a_real_code")
}

// TestStoredTextIsLinkified: Slack stores bare URLs as <url> links; the
// history returns them so, and links already written stay as they are.
func TestStoredTextIsLinkified(t *testing.T) {
	s, api := start(t, slacksim.Options{Clock: clock.NewFake(t0)})
	ch := s.ChannelID()
	in := "runbook http://wiki.example/rpc?a=1&amp;b=2, dashboard <https://dash.example|dash> and https://x.example."
	_, ts, err := api.PostMessage(ch, slack.MsgOptionText(in, false))
	if err != nil {
		t.Fatal(err)
	}
	want := "runbook <http://wiki.example/rpc?a=1&amp;b=2>, dashboard <https://dash.example|dash> and <https://x.example>."
	h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Text != want || h.Messages[0].Timestamp != ts {
		t.Fatalf("history: %v %+v", err, h)
	}
}

// TestConversationsReplies reads a thread back as docs.slack.dev documents
// conversations.replies: by the parent's ts or any reply's, parent first
// with the thread summary, replies oldest first, none of them in history.
func TestConversationsReplies(t *testing.T) {
	clk := clock.NewFake(t0)
	s, api := start(t, slacksim.Options{Clock: clk})
	ch := s.ChannelID()
	_, parent, err := api.PostMessage(ch, slack.MsgOptionText("group message", false))
	if err != nil {
		t.Fatal(err)
	}
	_, alone, _ := api.PostMessage(ch, slack.MsgOptionText("no replies", false))
	var replies []string
	for i := 0; i < 4; i++ {
		clk.Advance(2 * time.Second)
		_, ts, err := api.PostMessage(ch, slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, ts)
	}
	read := func(p slack.GetConversationRepliesParameters) ([]slack.Message, bool, string) {
		t.Helper()
		p.ChannelID = ch
		msgs, more, next, err := api.GetConversationReplies(&p)
		if err != nil {
			t.Fatal(err)
		}
		return msgs, more, next
	}
	for _, ts := range []string{parent, replies[2]} { // a reply's ts gives the whole thread
		msgs, more, _ := read(slack.GetConversationRepliesParameters{Timestamp: ts})
		if len(msgs) != 5 || more || msgs[0].Timestamp != parent || msgs[4].Timestamp != replies[3] {
			t.Fatalf("thread by %s: %d messages, more=%v", ts, len(msgs), more)
		}
		if p := msgs[0]; p.ReplyCount != 4 || p.ThreadTimestamp != parent || p.LatestReply != replies[3] || len(p.ReplyUsers) != 1 {
			t.Fatalf("parent summary: %+v", p.Msg)
		}
		if r := msgs[1]; r.ThreadTimestamp != parent || r.ParentUserId == "" {
			t.Fatalf("reply: %+v", r.Msg)
		}
	}
	if msgs, _, _ := read(slack.GetConversationRepliesParameters{Timestamp: alone}); len(msgs) != 1 || msgs[0].ReplyCount != 0 || msgs[0].ThreadTimestamp != "" {
		t.Fatalf("an unthreaded message comes back alone: %+v", msgs)
	}
	// Pages of two: the parent once, then the replies, each once.
	var all []string
	cur := ""
	for {
		msgs, more, next := read(slack.GetConversationRepliesParameters{Timestamp: parent, Limit: 2, Cursor: cur})
		for _, m := range msgs {
			all = append(all, m.Timestamp)
		}
		if !more {
			break
		}
		cur = next
	}
	if want := append([]string{parent}, replies...); strings.Join(all, ",") != strings.Join(want, ",") {
		t.Fatalf("pages %v, want %v", all, want)
	}
	// oldest/latest bound the thread; inclusive keeps the ends.
	if msgs, _, _ := read(slack.GetConversationRepliesParameters{Timestamp: parent, Oldest: replies[1], Latest: replies[3]}); len(msgs) != 1 || msgs[0].Timestamp != replies[2] {
		t.Fatalf("exclusive range: %d messages", len(msgs))
	}
	if msgs, _, _ := read(slack.GetConversationRepliesParameters{Timestamp: parent, Oldest: replies[1], Latest: replies[3], Inclusive: true}); len(msgs) != 3 {
		t.Fatalf("inclusive range: %d messages", len(msgs))
	}
	h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch})
	if err != nil || len(h.Messages) != 2 {
		t.Fatalf("history holds only channel messages: %v %d", err, len(h.Messages))
	}
	_, _, _, err = api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: "1.000001"})
	if !isSlackErr(err, "thread_not_found") {
		t.Fatalf("unknown ts: %v", err)
	}
}
