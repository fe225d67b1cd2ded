package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/wish/v2/testsession"
	gossh "golang.org/x/crypto/ssh"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/sim"
)

func f(v float64) *float64 { return &v }

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type key struct {
	signer gossh.Signer
	priv   ed25519.PrivateKey
	line   string // authorized_keys line
}

func newKey(t testing.TB) key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return key{signer: s, priv: priv, line: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))}
}

type rig struct {
	t     testing.TB
	r     *room.Room
	s     *Server
	audit *syncBuf
	keys  map[string]key // maya (commander), alice (owner of tokens), olga (observer), stranger (unlisted)
	dir   string
}

const token = "s3cret-token"

func newRig(t testing.TB, tweak func(*Options)) *rig {
	t.Helper()
	return newRigWith(t, nil, tweak)
}

// newRigWith is newRig with the room's file edited first.
func newRigWith(t testing.TB, edit func(*config.Config), tweak func(*Options)) *rig {
	t.Helper()
	keys := map[string]key{"maya": newKey(t), "alice": newKey(t), "olga": newKey(t), "stranger": newKey(t)}
	cfg := &config.Config{
		Incident:   config.Incident{Name: "test launch"},
		Escalation: config.Escalation{Backup: config.Duration(2 * time.Minute), Commander: config.Duration(5 * time.Minute)},
		Sources:    []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1", Interval: config.Duration(5 * time.Second), Timeout: config.Duration(10 * time.Second)}},
		Services: []config.Service{
			{ID: "tokens", Name: "Tokens", Owner: "alice", Panes: []config.Pane{
				{ID: "p95", Title: "p95 latency", Source: "prom", Query: "q1", Unit: "s", Warn: f(0.5), Crit: f(1)},
			}},
		},
		Roster: []config.Person{
			{Handle: "maya", Name: "Maya", SSHKeys: []string{keys["maya"].line}},
			{Handle: "alice", Name: "Alice", SSHKeys: []string{keys["alice"].line}},
			{Handle: "olga", Name: "Olga", SSHKeys: []string{keys["olga"].line}},
		},
		Roles: config.Roles{Commander: "maya"},
	}
	if edit != nil {
		edit(cfg)
	}
	dir := t.TempDir()
	r, err := room.Open(context.Background(), room.Options{Config: cfg, JournalPath: filepath.Join(dir, "j.db"), NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	audit := &syncBuf{}
	o := Options{SSHAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", HostKeyPath: filepath.Join(dir, "host_key"),
		Audit: slog.New(slog.NewTextHandler(audit, nil)), Token: token, MaxSessions: 200, MaxSessionsPerPerson: 200}
	if tweak != nil {
		tweak(&o)
	}
	s, err := New(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return &rig{t: t, r: r, s: s, audit: audit, keys: keys, dir: dir}
}

func (g *rig) dial(auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", g.s.SSHAddr(), &gossh.ClientConfig{User: "anyone", Auth: auth,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
}

func (g *rig) client(who string) *gossh.Client {
	g.t.Helper()
	c, err := g.dial(gossh.PublicKeys(g.keys[who].signer))
	if err != nil {
		g.t.Fatalf("dial as %s: %v", who, err)
	}
	g.t.Cleanup(func() { c.Close() })
	return c
}

func run(t testing.TB, c *gossh.Client, cmd string) (string, error) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	return string(out), err
}

func TestUnlistedKeyRefused(t *testing.T) {
	g := newRig(t, nil)
	_, err := g.dial(gossh.PublicKeys(g.keys["stranger"].signer))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("stranger: err = %v, want an authentication failure", err)
	}
	// No other method is offered: password and keyboard-interactive fail.
	_, err = g.dial(gossh.Password("maya"), gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil }))
	if err == nil {
		t.Fatal("password auth accepted")
	}
	fp := gossh.FingerprintSHA256(g.keys["stranger"].signer.PublicKey())
	if a := g.audit.String(); !strings.Contains(a, "not on the roster") || !strings.Contains(a, fp) {
		t.Fatalf("audit log lacks the refusal of %s:\n%s", fp, a)
	}
	if out, err := run(t, g.client("alice"), "whoami"); err != nil || strings.TrimSpace(out) != "alice" {
		t.Fatalf("whoami as alice = %q, %v", out, err)
	}
}

// offerOnly claims a public key but cannot sign: the client offers the
// key (the server says it would accept it), then fails to prove it holds
// it and moves on to its next method.
type offerOnly struct{ pub gossh.PublicKey }

func (o offerOnly) PublicKey() gossh.PublicKey { return o.pub }
func (o offerOnly) Sign(io.Reader, []byte) (*gossh.Signature, error) {
	return nil, errors.New("no private key for this one")
}

func TestOfferedKeyIsNotIdentity(t *testing.T) {
	g := newRig(t, nil)
	commander := offerOnly{g.keys["maya"].signer.PublicKey()}
	var mu sync.Mutex
	var offers []string
	g.s.onOffer = func(fp string) { mu.Lock(); offers = append(offers, fp); mu.Unlock() }
	offer := gossh.PublicKeysCallback(func() ([]gossh.Signer, error) { return []gossh.Signer{commander}, nil })
	// dialThen offers the commander's key first (query accepted, no
	// signature), then authenticates with a second publickey attempt.
	dialThen := func(second gossh.Signer) (*gossh.Client, error) {
		used := false
		return gossh.Dial("tcp", g.s.SSHAddr(), &gossh.ClientConfig{User: "anyone", Auth: []gossh.AuthMethod{offer},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
			AuthCallback: func(ctx *gossh.ClientAuthContext) (gossh.AuthMethod, error) {
				if !used && slices.Contains(ctx.TriedMethods, "publickey") {
					used = true
					return gossh.PublicKeys(second), nil
				}
				return nil, nil
			}})
	}

	// Offer the commander's key, authenticate as alice: alice it is.
	c, err := dialThen(g.keys["alice"].signer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := run(t, c, "whoami"); err != nil || strings.TrimSpace(out) != "alice" {
		t.Fatalf("offered maya, authenticated as alice: whoami = %q, %v", out, err)
	}
	mu.Lock()
	if !slices.Contains(offers, gossh.FingerprintSHA256(commander.pub)) {
		t.Fatalf("the commander's key was never offered: %v", offers)
	}
	mu.Unlock()
	// Offer the commander's key, then sign with an unlisted key: refused.
	if c, err := dialThen(g.keys["stranger"].signer); err == nil {
		out, _ := run(t, c, "whoami")
		c.Close()
		t.Fatalf("offered maya, signed with an unlisted key: connected as %q", out)
	}
	// Same inside one method: offer maya's key then alice's.
	both := gossh.PublicKeysCallback(func() ([]gossh.Signer, error) {
		return []gossh.Signer{commander, g.keys["alice"].signer}, nil
	})
	if c, err := g.dial(both); err == nil { // the sign failure aborts this method; either outcome is fine if not maya
		out, _ := run(t, c, "whoami")
		c.Close()
		if strings.TrimSpace(out) != "alice" {
			t.Fatalf("whoami = %q, want alice", out)
		}
	}
	if a := g.audit.String(); strings.Contains(a, "handle=maya") {
		t.Fatalf("maya was recorded as connected:\n%s", a)
	}
}

func TestNoPTYAndUnknownCommand(t *testing.T) {
	g := newRig(t, nil)
	c := g.client("maya")
	out, err := run(t, c, "")
	if err == nil || !strings.Contains(out, "needs a terminal") {
		t.Fatalf("no pty: %q, %v", out, err)
	}
	out, err = run(t, c, "rm -rf /")
	if err == nil || !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %q, %v", out, err)
	}
}

const alertBody = `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighLatency","service":"tokens","severity":"critical"},"annotations":{"summary":"p95 over 1s"}}]}`

// TestWebhookOnlyForAlertmanager: the served webhook refuses a missing or
// wrong token, a body that is not JSON and any request from a web page
// (Origin), and nothing of them reaches the timeline.
func TestWebhookOnlyForAlertmanager(t *testing.T) {
	g := newRig(t, nil)
	before := len(timeline(t, g, 0))
	for _, c := range []struct {
		change map[string]string
		code   int
	}{
		{map[string]string{"Authorization": ""}, 401},
		{map[string]string{"Authorization": "Bearer s3cret-tokem"}, 401},
		{map[string]string{"Content-Type": "text/plain"}, 415},
		{map[string]string{"Origin": "https://status.example"}, 403},
	} {
		if code := postWebhook(t, g, alertBody, c.change); code != c.code {
			t.Errorf("%v: %d, want %d", c.change, code, c.code)
		}
	}
	if n := len(timeline(t, g, 0)); n != before {
		t.Fatalf("%d events from refused requests", n-before)
	}
}

func postAlert(t testing.TB, g *rig) string {
	t.Helper()
	if code := postWebhook(t, g, alertBody, nil); code != 200 {
		t.Fatalf("webhook: %d", code)
	}
	for _, ev := range timeline(t, g, 0) {
		if ev.Kind == incident.KindAlert && ev.Alert != nil {
			return ev.Alert.ID
		}
	}
	t.Fatal("no alert event after the webhook")
	return ""
}

// postWebhook posts body to /api/alertmanager as Alertmanager does (JSON,
// the bearer token), with headers changed or removed ("") by change.
func postWebhook(t testing.TB, g *rig, body string, change map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+g.s.HTTPAddr()+"/api/alertmanager", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range change {
		req.Header.Del(k)
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func timeline(t testing.TB, g *rig, after int64) []incident.Event {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/api/timeline?after=%d", g.s.HTTPAddr(), after), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("timeline: %s", resp.Status)
	}
	var evs []incident.Event
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestObserverAckRefused(t *testing.T) {
	g := newRig(t, nil)
	id := postAlert(t, g)
	out, err := run(t, g.client("olga"), "whoami")
	if err != nil {
		t.Fatal(err)
	}
	handle := strings.TrimSpace(out)
	if handle != "olga" {
		t.Fatalf("olga's key identified as %q", handle)
	}
	rep := g.r.Engine.Do(context.Background(), incident.Ack{By: handle, AlertID: id})
	var ref *roles.Refusal
	if !errors.As(rep.Err, &ref) {
		t.Fatalf("observer ack: %+v, want a refusal", rep)
	}
	if rep := g.r.Engine.Do(context.Background(), incident.Ack{By: "alice", AlertID: id}); rep.Err != nil {
		t.Fatalf("owner ack: %v", rep.Err)
	}
}

// ptySession opens a dashboard session (emulated PTY on the server).
func ptySession(t testing.TB, c *gossh.Client, w, h int) (*gossh.Session, *syncBuf) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	sess.Stdout = out
	sess.Stderr = out
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess, out
}

func waitFor(t testing.TB, d time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func TestDashboardHeaderIdentity(t *testing.T) {
	g := newRig(t, nil)
	_, out := ptySession(t, g.client("olga"), 120, 40)
	if !waitFor(t, 10*time.Second, func() bool {
		s := out.String()
		return strings.Contains(s, "test launch") && strings.Contains(s, "olga")
	}) {
		t.Fatalf("dashboard header never showed olga:\n%q", out.String())
	}
	if !waitFor(t, 2*time.Second, func() bool { return g.s.Sessions() == 1 }) {
		t.Fatalf("sessions = %d", g.s.Sessions())
	}
}

// TestTestsession uses wish's testsession against the server's own
// ssh.Server: a PTY request gets the dashboard.
func TestTestsession(t *testing.T) {
	g := newRig(t, func(o *Options) { o.SSHAddr = "-" })
	signer, err := LoadOrCreateHostKey(filepath.Join(g.dir, "host2"))
	if err != nil {
		t.Fatal(err)
	}
	srv := g.s.newSSH(signer)
	sess := testsession.New(t, srv, &gossh.ClientConfig{User: "x", Auth: []gossh.AuthMethod{gossh.PublicKeys(g.keys["maya"].signer)}})
	out := &syncBuf{}
	sess.Stdout = out
	if err := sess.RequestPty("xterm", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "maya") }) {
		t.Fatalf("no dashboard for maya:\n%q", out.String())
	}
	// And without a PTY, a clear message.
	sess2 := testsession.New(t, srv, &gossh.ClientConfig{User: "x", Auth: []gossh.AuthMethod{gossh.PublicKeys(g.keys["maya"].signer)}})
	b, _ := sess2.CombinedOutput("")
	if !strings.Contains(string(b), "needs a terminal") {
		t.Fatalf("no-pty message: %q", b)
	}
}

func TestMaxSessionsAndIdle(t *testing.T) {
	g := newRig(t, func(o *Options) { o.MaxSessions = 1; o.IdleTimeout = 500 * time.Millisecond })
	c := g.client("maya")
	sess, out := ptySession(t, c, 80, 24)
	if !waitFor(t, 10*time.Second, func() bool { return g.s.Sessions() == 1 }) {
		t.Fatal("first session not counted")
	}
	o2, err := run(t, g.client("alice"), "whoami")
	if err == nil || !strings.Contains(o2, "full") {
		t.Fatalf("second session over the limit: %q, %v", o2, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("idle session not closed")
	}
	if !strings.Contains(out.String(), "without input") {
		t.Fatalf("idle message missing: %q", out.String())
	}
	if !waitFor(t, 2*time.Second, func() bool {
		return strings.Contains(g.audit.String(), "ssh idle timeout") && strings.Contains(g.audit.String(), "ssh disconnect")
	}) {
		t.Fatalf("audit:\n%s", g.audit.String())
	}
}

// TestFiftySessionsSeeNote: the overview does not show notes (only the
// status line's #seq, which the renderer redraws by cell diff), so the
// fan-out is checked with the line-streaming `tail` mode: 50 concurrent
// sessions each must print a new note's line within 1 s of its commit.
func TestFiftySessionsSeeNote(t *testing.T) {
	g := newRig(t, nil)
	const n = 50
	type reader struct {
		seen chan struct{}
	}
	c := g.client("alice") // one connection, 50 channels; plus a few connections
	var clients []*gossh.Client
	for i := range 5 {
		_ = i
		clients = append(clients, g.client("olga"))
	}
	clients = append(clients, c)
	text := fmt.Sprintf("note-%d", time.Now().UnixNano())
	readers := make([]*reader, n)
	ready := make(chan struct{}, n)
	for i := range n {
		rd := &reader{seen: make(chan struct{})}
		readers[i] = rd
		sess, err := clients[i%len(clients)].NewSession()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sess.Close() })
		pipe, err := sess.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Start("tail"); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(pipe)
			first := true
			for sc.Scan() {
				if first {
					ready <- struct{}{}
					first = false
				}
				if strings.Contains(sc.Text(), text) {
					close(rd.seen)
					return
				}
			}
		}()
	}
	for i := range n {
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d sessions printed the backlog", i, n)
		}
	}
	start := time.Now()
	if rep := g.r.Engine.Do(context.Background(), incident.Note{By: "alice", Text: text}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	deadline := time.After(time.Second)
	var worst time.Duration
	for i, rd := range readers {
		select {
		case <-rd.seen:
			worst = max(worst, time.Since(start))
		case <-deadline:
			t.Fatalf("session %d did not see the note within 1 s", i)
		}
	}
	t.Logf("all %d sessions saw the note; slowest after %v", n, worst)
	if got := g.s.Sessions(); got != n {
		t.Errorf("sessions gauge = %d, want %d", got, n)
	}
}

func TestHTTP(t *testing.T) {
	g := newRig(t, nil)
	base := "http://" + g.s.HTTPAddr()
	get := func(path, tok string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := get("/healthz", "", nil); r.StatusCode != 200 {
		t.Fatalf("healthz %s", r.Status)
	}
	for _, tok := range []string{"", "wrong"} {
		if r := get("/api/timeline", tok, nil); r.StatusCode != 401 {
			t.Fatalf("timeline with token %q: %s", tok, r.Status)
		}
		if r := get("/api/timeline/stream", tok, nil); r.StatusCode != 401 {
			t.Fatalf("stream with token %q: %s", tok, r.Status)
		}
	}
	postAlert(t, g)
	for i := range 3 {
		if rep := g.r.Engine.Do(context.Background(), incident.Note{By: "maya", Text: fmt.Sprintf("n%d", i)}); rep.Err != nil {
			t.Fatal(rep.Err)
		}
	}
	all := timeline(t, g, 0)
	last := all[len(all)-1].Seq
	if got := timeline(t, g, last-2); len(got) != 2 || got[0].Seq != last-1 {
		t.Fatalf("after=%d: %+v", last-2, got)
	}

	// SSE from Last-Event-ID: the backlog after it, then live events.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/timeline/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", fmt.Sprint(last-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		g.r.Engine.Do(context.Background(), incident.Note{By: "maya", Text: "live one"})
	}()
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	var sawLive bool
	for data := 0; data < 2 && sc.Scan(); {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			ids = append(ids, id)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			var ev incident.Event
			if err := json.Unmarshal([]byte(d), &ev); err != nil {
				t.Fatalf("data line %q: %v", d, err)
			}
			sawLive = sawLive || ev.Text == "live one"
			data++
		}
	}
	if len(ids) != 2 || ids[0] != fmt.Sprint(last) || ids[1] != fmt.Sprint(last+1) || !sawLive {
		t.Fatalf("stream ids %v (want %d, %d), live %v", ids, last, last+1, sawLive)
	}
	cancel()

	// Close ends open streams promptly instead of waiting for them.
	req2, _ := http.NewRequest("GET", base+"/api/timeline/stream", nil)
	req2.Header.Set("Authorization", "Bearer "+token)
	resp4, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	defer resp4.Body.Close()

	r := get("/metrics", "", nil)
	b, _ := io.ReadAll(r.Body)
	for _, want := range []string{fmt.Sprintf("warroom_events_committed %d", last+1), "warroom_ssh_sessions 0", "warroom_engine_up 1"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}

	start := time.Now()
	if err := g.s.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Close took %v with a stream open", el)
	}
	_, _ = io.ReadAll(resp4.Body) // the stream ended

	// Without a token the timeline endpoints do not exist.
	g2 := newRig(t, func(o *Options) { o.Token = "" })
	resp2, err := http.Get("http://" + g2.s.HTTPAddr() + "/api/timeline")
	if err != nil {
		t.Fatal(err)
	}
	if resp2.StatusCode != 404 {
		t.Fatalf("no token: %s", resp2.Status)
	}
	// Nor does the webhook take anything.
	if code := postWebhook(t, g2, alertBody, map[string]string{"Authorization": ""}); code != 401 {
		t.Fatalf("webhook without a server token: %d", code)
	}

	// Engine stopped: 503.
	g2.r.Close()
	resp3, err := http.Get("http://" + g2.s.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if resp3.StatusCode != 503 {
		t.Fatalf("healthz after stop: %s", resp3.Status)
	}
}

func TestHostKeyPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	a, err := LoadOrCreateHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.PublicKey().Marshal(), b.PublicKey().Marshal()) {
		t.Fatal("host key changed between loads")
	}
	if fi, _ := osStat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
}

var osStat = os.Stat

// TestMetricsShowTheDatadogBudget: with a Datadog source (the simulator's,
// which answers with the recorded rate-limit headers), /metrics shows what
// is left of each bucket's budget.
func TestMetricsShowTheDatadogBudget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sm, err := sim.Start(ctx, sim.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	t.Setenv("WR_TEST_DD_API", "0123456789abcdef0123456789abcdef")
	t.Setenv("WR_TEST_DD_APP", "0123456789abcdef0123456789abcdef01234567")
	cfg := &config.Config{
		Incident: config.Incident{Name: "budget"},
		Sources: []config.Source{{ID: "dd", Type: config.SourceDatadog, APIURL: sm.DatadogURL, Interval: config.Duration(time.Second),
			APIKey: config.Secret{Env: "WR_TEST_DD_API"}, AppKey: config.Secret{Env: "WR_TEST_DD_APP"}}},
		Services: []config.Service{{ID: "tokens", Owner: "maya", Panes: []config.Pane{
			{ID: "throttles", Source: "dd", Query: "sum:aws.lambda.throttles{functionname:tokens}.as_rate()"}}}},
		Roster: []config.Person{{Handle: "maya"}},
		Roles:  config.Roles{Commander: "maya"},
	}
	dir := t.TempDir()
	r, err := room.Open(ctx, room.Options{Config: cfg, JournalPath: filepath.Join(dir, "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := New(r, Options{HTTPAddr: "127.0.0.1:0", HostKeyPath: filepath.Join(dir, "host_key"), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var body string
	ok := waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return strings.Contains(body, `warroom_source_ratelimit_remaining{bucket="query",name="",source="dd"}`)
	})
	if !ok {
		t.Fatalf("no budget in /metrics:\n%s", body)
	}
	for _, want := range []string{`warroom_source_ratelimit_limit{bucket="query",name="",source="dd"} 3000`,
		`warroom_source_ratelimit_period_seconds{bucket="query",name="",source="dd"} 60`,
		`warroom_source_ratelimit_poll_every_seconds{bucket="query",name="",source="dd"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if b := r.SourceBudgets()["dd"]; !strings.HasSuffix(b, "/3000 per 1m") {
		t.Errorf("status bar budget %q", b)
	}
}

// TestNoteAndAckOverSSH: one command on the ssh command line is carried out
// as the key's person and answered with its committed events, or refused
// with the reason and exit status 1.
func TestNoteAndAckOverSSH(t *testing.T) {
	g := newRig(t, nil)
	id := postAlert(t, g)
	out, err := run(t, g.client("alice"), "note pool raised to 400")
	if err != nil || !strings.Contains(out, " NOTE ") || !strings.Contains(out, "pool raised to 400") || !strings.HasPrefix(out, "#") {
		t.Fatalf("note: %q %v", out, err)
	}
	out, err = run(t, g.client("olga"), "ack "+id)
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("an observer's ack: %q %v", out, err)
	}
	out, err = run(t, g.client("alice"), "ack "+id)
	if err != nil || !strings.Contains(out, " ACK ") {
		t.Fatalf("the owner's ack: %q %v", out, err)
	}
}

// Sessions is the number of open SSH sessions.
func (s *Server) Sessions() int { return int(s.sessions.Load()) }
