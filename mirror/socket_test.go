package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	slacksim "github.com/warroom/warroom/sim/slack"
)

func (h *harness) lastEvent(kind incident.Kind) (incident.Event, bool) {
	evs := h.events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i], true
		}
	}
	return incident.Event{}, false
}

func (h *harness) ephemeralsTo(user string) []slacksim.Ephemeral { return h.srv.Ephemerals(user) }

func TestSocketModeCommands(t *testing.T) {
	h := newHarness(t, hopts{socket: true})
	h.autoDrive()
	h.waitFor("socket mode connection", func() bool { return h.srv.Connections() > 0 && h.m.Status().Socket == "connected" })
	id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "p95 latency 2.3s > 1s")).Events[0].Alert.ID
	h.waitFor("alert message", func() bool { return len(h.find("`"+id+"`")) == 1 })

	// Someone who is not on the roster: refused, only they see why.
	a, err := h.srv.InjectSlash("U0EVE", "ack tokens")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "Refused") || !strings.Contains(a.Text, "not on this war room's roster") {
		t.Fatalf("unmapped user's answer: %q", a.Text)
	}
	if e := h.ephemeralsTo("U0EVE"); len(e) != 1 {
		t.Fatalf("the refusal was not ephemeral: %+v", e)
	}
	// On the roster but without the right: refused with the engine's reason.
	a, err = h.srv.InjectSlash("U0OLGA", "ack tokens")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "Refused: olga cannot ack tokens alerts: alice or bob owns tokens") {
		t.Fatalf("unpermitted user's answer: %q", a.Text)
	}
	if _, ok := h.lastEvent(incident.KindAck); ok {
		t.Fatal("a refused ack was committed")
	}
	// The owner: acked (the ACK event is committed before the answer).
	a, err = h.srv.InjectSlash("U0ALICE", "ack tokens")
	if err != nil {
		t.Fatal(err)
	}
	ack, ok := h.lastEvent(incident.KindAck)
	if !ok || ack.Actor != "alice" || ack.Alert.ID != id || !strings.Contains(a.Text, "Acked `"+id+"`") {
		t.Fatalf("ack: %q %+v", a.Text, ack)
	}
	h.waitFor("alert message updated", func() bool {
		m := h.find("`" + id + "`")
		return len(m) == 1 && strings.Contains(m[0].Text, "acked by alice") && !hasButton(m[0])
	})
	if a.Latency > 3*time.Second {
		t.Fatalf("ack took %s", a.Latency)
	}

	// The Ack button on a second alert.
	id2 := h.do(incidenttest.Firing("history", incident.LevelCrit, "indexer lag 40 blocks")).Events[0].Alert.ID
	h.waitFor("second alert message", func() bool {
		m := h.find("`" + id2 + "`")
		return len(m) == 1 && hasButton(m[0])
	})
	if _, err := h.srv.ClickButton("U0EVE", ackAction, id2); err != nil {
		t.Fatal(err)
	}
	h.waitFor("ephemeral refusal for a click", func() bool { return len(h.ephemeralsTo("U0EVE")) == 2 })
	if e := h.ephemeralsTo("U0EVE"); !strings.Contains(e[1].Text, "not on this war room's roster") {
		t.Fatalf("click refusal: %+v", e[1])
	}
	if _, err := h.srv.ClickButton("U0BOB", ackAction, id2); err != nil {
		t.Fatal(err)
	}
	h.waitFor("ack by click", func() bool {
		ev, ok := h.lastEvent(incident.KindAck)
		return ok && ev.Actor == "bob" && ev.Alert.ID == id2
	})
	h.waitFor("ephemeral confirmation", func() bool {
		e := h.ephemeralsTo("U0BOB")
		return len(e) == 1 && strings.Contains(e[0].Text, "Acked `"+id2+"`")
	})
	h.waitFor("second alert updated", func() bool {
		m := h.find("`" + id2 + "`")
		return len(m) == 1 && strings.Contains(m[0].Text, "acked by bob") && !hasButton(m[0])
	})

	// A note (escaped on its way back to Slack) and the status summary.
	a, err = h.srv.InjectSlash("U0ALICE", "note <!here> pool raised to 400 & holding")
	if err != nil || !strings.Contains(a.Text, "Noted as #") {
		t.Fatalf("note: %q %v", a.Text, err)
	}
	h.waitFor("note in Slack", func() bool { return len(h.find("*alice*: &lt;!here&gt; pool raised to 400 &amp; holding")) == 1 })
	// A Slack command counts as presence (not an event) for the dashboards.
	st, sub, err := h.eng.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Unsubscribe(sub)
	if got := st.Connected("alice"); len(got) != 1 || got[0] != incident.ViaSlack {
		t.Fatalf("alice's presence after a Slack command: %v", got)
	}
	id3 := h.do(incidenttest.Firing("tokens", incident.LevelWarn, "error rate 2%")).Events[0].Alert.ID
	a, err = h.srv.InjectSlash("U0MAYA", "status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*airdrop launch* · commander *maya*", "• *tokens*:", "`" + id + "` CRIT", "acked by alice", "`" + id3 + "` WARN", "unacked", "• *history*:", "Slack mirror:"} {
		if !strings.Contains(a.Text, want) {
			t.Fatalf("status lacks %q:\n%s", want, a.Text)
		}
	}
	if a, _ := h.srv.InjectSlash("U0MAYA", "dance"); !strings.Contains(a.Text, "Usage") {
		t.Fatalf("unknown command: %q", a.Text)
	}
	h.noViolations() // every envelope acked within 3 s
}

// TestSecretsNeverShown runs the mirror through errors of every kind and
// looks for the tokens everywhere the mirror writes.
func TestSecretsNeverShown(t *testing.T) {
	h := newHarness(t, hopts{socket: true})
	h.autoDrive()
	h.waitFor("socket", func() bool { return h.srv.Connections() > 0 })
	h.note("alice", "first")
	h.waitFor("first", func() bool { return len(h.find("first")) == 1 })
	var seen []string
	watch := func() { seen = append(seen, h.m.Status().Err, h.m.Status().Socket) }
	h.srv.Fail(h.clk.Now().Add(time.Minute), 502)
	h.note("alice", "during a 502")
	h.waitFor("down", func() bool { watch(); return h.m.Status().State == StateDown })
	h.srv.Fail(time.Time{}, 0)
	h.srv.DropRequests(1)
	h.note("alice", "lost")
	h.waitFor("uncertain", func() bool { watch(); return h.drained() })
	if err := h.srv.SetRefusing(true); err != nil {
		t.Fatal(err)
	}
	h.note("alice", "refused")
	h.waitFor("refused", func() bool { watch(); return strings.Contains(h.m.Status().Err, "refused") })
	if err := h.srv.SetRefusing(false); err != nil {
		t.Fatal(err)
	}
	h.srv.RevokeToken(botToken, "token_revoked")
	h.note("alice", "revoked")
	h.waitFor("stopped", func() bool { watch(); return h.m.Status().State == StateStopped })
	h.stopMirror()

	var all []string
	all = append(all, seen...)
	h.logMu.Lock()
	all = append(all, h.logs...)
	h.logMu.Unlock()
	for _, m := range h.srv.Messages(h.srv.ChannelID()) {
		all = append(all, m.Text, string(m.Blocks))
	}
	for _, e := range h.srv.Ephemerals("") {
		all = append(all, e.Text)
	}
	for _, ev := range h.events() {
		all = append(all, ev.Line())
	}
	rows, err := h.j.SlackMessages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		all = append(all, r.Text, string(r.Body), r.Error)
	}
	joined := strings.Join(all, "\n")
	for _, secret := range []string{botToken, appToken, "canaryBOTtoken", "canaryAPPtoken"} {
		if strings.Contains(joined, secret) {
			t.Fatalf("a token leaked:\n%s", joined)
		}
	}
	if !strings.Contains(joined, "token_revoked") || !strings.Contains(joined, "Slack mirror down") {
		t.Fatalf("the test did not see the errors it meant to provoke:\n%s", joined)
	}
}

// slowNotes is an engine whose notes wait for release, ignoring their
// context, as a command stuck in a slow engine would.
type slowNotes struct {
	Engine
	started chan struct{}
	release chan struct{}
}

func (s *slowNotes) Do(ctx context.Context, cmd incident.Command) incident.Reply {
	if _, ok := cmd.(incident.Note); ok {
		close(s.started)
		<-s.release
	}
	return s.Engine.Do(ctx, cmd)
}

// TestStopWaitsForSocketModeWorkers: the mirror is done only once the
// goroutine running a slash command has returned, so nothing it does
// reaches an engine or journal that is closing.
func TestStopWaitsForSocketModeWorkers(t *testing.T) {
	slow := &slowNotes{started: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, hopts{socket: true, mirror: func(o *Options) { slow.Engine = o.Engine; o.Engine = slow }})
	h.autoDrive()
	h.waitFor("socket mode connection", func() bool { return h.srv.Connections() > 0 && h.m.Status().Socket == "connected" })
	go h.srv.InjectSlash("U0ALICE", "note the pool is raised")
	select {
	case <-slow.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the note never reached the engine")
	}
	h.stopDriving()
	h.mCancel()
	select {
	case <-h.m.Done():
		t.Fatal("the mirror was done while a command worker still ran")
	case <-time.After(200 * time.Millisecond):
	}
	close(slow.release)
	select {
	case <-h.m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the mirror never finished")
	}
	h.mCancel = nil
}

// TestSocketModeStopsOnARefusedAppToken: an app token Slack refuses stops
// Socket Mode with the reason (retrying would only be refused again); a
// dropped connection or a 5xx is retried.
func TestSocketModeStopsOnARefusedAppToken(t *testing.T) {
	for _, c := range []struct {
		err   error
		fatal bool
	}{
		{slack.SlackErrorResponse{Err: "invalid_auth"}, true},
		{fmt.Errorf("open: %w", slack.SlackErrorResponse{Err: "token_revoked"}), true},
		{slack.StatusCodeError{Code: 404, Status: "404 Not Found"}, true},
		{slack.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}, false},
		{errors.New("invalid_auth in a message is not Slack's answer"), false},
		{io.ErrUnexpectedEOF, false},
	} {
		if got := socketFatal(c.err); got != c.fatal {
			t.Errorf("socketFatal(%v) = %v, want %v", c.err, got, c.fatal)
		}
	}
	h := newHarness(t, hopts{socket: true, mirror: func(o *Options) { o.AppToken = "xapp-1-A111-notTheAppsToken" }})
	h.autoDrive()
	h.waitFor("socket mode stopped", func() bool { return strings.HasPrefix(h.m.Status().Socket, "stopped: invalid_auth") })
	// The status bar says no one can act from Slack.
	if l := h.m.Status().Line(); !strings.Contains(l, "; /warroom stopped: invalid_auth") || strings.Contains(l, "notTheAppsToken") {
		t.Errorf("status line %q", l)
	}
	if n := h.srv.Connections(); n != 0 {
		t.Fatalf("%d Socket Mode connections with a refused token", n)
	}
}

// TestSlashSignOff: a person without a terminal signs off from Slack,
// as themselves and only what the plan names them for.
func TestSlashSignOff(t *testing.T) {
	h := newHarness(t, hopts{socket: true, config: func(c *config.Config) {
		at := t0.Add(time.Hour)
		c.Incident.Launch = &at
		c.Launch = &config.Launch{Criteria: []config.Criterion{
			{ID: "nat-sign-off", Title: "NAT capacity", SignOff: "bob"},
			{ID: "db-sign-off", Title: "DB capacity", SignOff: "alice"},
		}}
	}})
	h.autoDrive()
	h.waitFor("socket mode connection", func() bool { return h.srv.Connections() > 0 && h.m.Status().Socket == "connected" })
	green := func(id string) bool {
		st, sub, err := h.eng.Subscribe(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		h.eng.Unsubscribe(sub)
		return st.Launch.Criterion(id).Green
	}
	// Someone else's criterion: refused with the engine's reason.
	a, err := h.srv.InjectSlash("U0ALICE", "signoff nat-sign-off")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "Refused: nat-sign-off is signed off by bob, not alice") || green("nat-sign-off") {
		t.Fatalf("alice signing bob's criterion: %q", a.Text)
	}
	// Without an id: the one criterion naming bob; the rest is the note,
	// escaped on its way back.
	a, err = h.srv.InjectSlash("U0BOB", "signoff <!channel> 8 IPs attached")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "nat-sign-off is green: bob signed off: &lt;!channel&gt; 8 IPs attached (#") || !green("nat-sign-off") {
		t.Fatalf("bob's sign-off: %q", a.Text)
	}
	ev, ok := h.lastEvent(incident.KindEvidence)
	if !ok || ev.Actor != "bob" || ev.Evidence.Criterion != "nat-sign-off" {
		t.Fatalf("evidence event: %+v", ev)
	}
	// With the id and a note.
	a, err = h.srv.InjectSlash("U0ALICE", "signoff db-sign-off pool at 400")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "db-sign-off is green: alice signed off: pool at 400") || !green("db-sign-off") {
		t.Fatalf("alice's sign-off: %q", a.Text)
	}
	if a, _ := h.srv.InjectSlash("U0OLGA", "signoff"); !strings.Contains(a.Text, "Refused: no criterion is signed off by olga") {
		t.Fatalf("olga's sign-off: %q", a.Text)
	}
	h.noViolations()
}
