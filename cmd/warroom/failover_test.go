package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
	slacksim "github.com/warroom/warroom/sim/slack"
)

// The failover drill: two `warroom serve` processes share a room in
// Postgres; people use both over SSH (a dashboard and a tail each, and
// commands), Alertmanager posts alerts to both, and the room mirrors to
// Slack. The leader is killed with SIGKILL at a random moment, again and
// again, and comes back as a standby each time. Checked: every command a
// person saw accepted is in the log exactly once; the log has no gap; the
// standby leads within 10 s (median and max are reported); the sessions
// on the standby keep working through the failover without reconnecting;
// Slack has every event, none twice.

const drillToken = "drill-http-token-0123456789"

type drillKey struct {
	signer gossh.Signer
	line   string
}

func newDrillKey(t *testing.T) drillKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return drillKey{signer: s, line: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// drillNode is one serve process and, for its current incarnation, the
// sessions people have open on it.
type drillNode struct {
	name, ssh, http string
	cmd             *exec.Cmd
	exited          chan struct{}
	up              atomic.Bool
	gen             atomic.Int64

	mu     sync.Mutex
	alice  *gossh.Client // commands
	maya   *gossh.Client // the dashboard and the tail
	pty    *gossh.Session
	ptyIn  interface{ Write([]byte) (int, error) }
	ptyOut *countBuf
	tail   *tailWatch
}

type countBuf struct {
	mu sync.Mutex
	n  int
}

func (c *countBuf) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.n += len(b)
	c.mu.Unlock()
	return len(b), nil
}

func (c *countBuf) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// tailWatch reads `ssh HOST tail` and checks that seqs follow each other.
type tailWatch struct {
	mu    sync.Mutex
	last  int64
	lines []string
	bad   string
	done  chan struct{}
}

var tailSeq = regexp.MustCompile(`^#(\d+) `)

func (w *tailWatch) read(sc *bufio.Scanner) {
	defer close(w.done)
	for sc.Scan() {
		m := tailSeq.FindStringSubmatch(sc.Text())
		w.mu.Lock()
		if m != nil {
			seq, _ := strconv.ParseInt(m[1], 10, 64)
			if w.last != 0 && seq != w.last+1 && w.bad == "" {
				w.bad = fmt.Sprintf("#%d after #%d", seq, w.last)
			}
			w.last = seq
		}
		w.lines = append(w.lines, sc.Text())
		w.mu.Unlock()
	}
}

func (w *tailWatch) state() (int64, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.bad
}

func (w *tailWatch) has(text string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(l, text) {
			return true
		}
	}
	return false
}

type foDrill struct {
	t       *testing.T
	cfg     string
	env     []string
	keys    map[string]drillKey
	nodes   [2]*drillNode
	logDir  string
	httpc   *http.Client
	started time.Time
}

func (d *foDrill) health(n *drillNode) string {
	resp, err := d.httpc.Get("http://" + n.http + "/healthz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return strings.TrimSpace(b.String())
}

func (d *foDrill) dial(n *drillNode, who string) (*gossh.Client, error) {
	return gossh.Dial("tcp", n.ssh, &gossh.ClientConfig{User: who, Auth: []gossh.AuthMethod{gossh.PublicKeys(d.keys[who].signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
}

// start runs the node's serve process and waits until it answers as
// want (leader or standby), then opens its sessions.
func (d *foDrill) start(n *drillNode, want string) {
	t := d.t
	t.Helper()
	log, err := os.OpenFile(filepath.Join(d.logDir, n.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "-c", d.cfg, "--node", n.name, "--ssh", n.ssh, "--http", n.http, "--idle-timeout", "0")
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); log.Close(); close(done) }(cmd, n.exited)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.HasPrefix(d.health(n), "ok "+want) {
		select {
		case <-n.exited:
			b, _ := os.ReadFile(filepath.Join(d.logDir, n.name+".log"))
			t.Fatalf("%s exited:\n%s", n.name, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never said ok %s: %q", n.name, want, d.health(n))
		}
		time.Sleep(20 * time.Millisecond)
	}
	alice, err := d.dial(n, "alice")
	if err != nil {
		t.Fatal(err)
	}
	maya, err := d.dial(n, "maya")
	if err != nil {
		t.Fatal(err)
	}
	tailSess, err := maya.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := tailSess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tailSess.Start("tail"); err != nil {
		t.Fatal(err)
	}
	tw := &tailWatch{done: make(chan struct{})}
	go tw.read(bufio.NewScanner(pipe))
	pty, err := maya.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &countBuf{}
	pty.Stdout = out
	if err := pty.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := pty.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Shell(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("3")) // the timeline view
	n.mu.Lock()
	n.alice, n.maya, n.pty, n.ptyIn, n.ptyOut, n.tail = alice, maya, pty, in, out, tw
	n.mu.Unlock()
	n.gen.Add(1)
	n.up.Store(true)
}

func (n *drillNode) client() (*gossh.Client, int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.alice, n.gen.Load()
}

// sshCmd runs one command over the node's open connection.
func sshCmd(c *gossh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

// results are what people saw accepted.
type results struct {
	mu        sync.Mutex
	notes     map[string]int64 // text → seq
	alerts    map[string]bool  // alertname → the webhook answered 200
	acks      map[string]bool  // alert id → ack accepted
	survivors int              // commands that failed on a node that was not killed
	failed    []string
}

func TestFailoverDrill(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 4
	}
	if v, err := strconv.Atoi(os.Getenv("WARROOM_DRILL_KILLS")); err == nil && v > 0 {
		kills = v
	}
	pgURL := journaltest.PostgresURL(t) + "&room=drill"
	bot, _ := slacksim.NewTokens()
	sl := slacksim.New(slacksim.Options{BotToken: bot, PostLimit: slacksim.Limit{Rate: 20, Burst: 20},
		MethodLimits: map[string]slacksim.Limit{"chat.update": {Rate: 20, Burst: 20}, "conversations.history": {Rate: 20, Burst: 20}}})
	if err := sl.Start(); err != nil {
		t.Fatal(err)
	}
	defer sl.Close()

	// Slack's answers to posts come back late (the post is applied at
	// once), so that kills land between a post and its answer: the new
	// leader must find those messages rather than post them again.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimSuffix(sl.URL(), "/")+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
			time.Sleep(300 * time.Millisecond)
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer slow.Close()

	dir := t.TempDir()
	keys := map[string]drillKey{"maya": newDrillKey(t), "alice": newDrillKey(t)}
	cfg := fmt.Sprintf(`incident:
  name: failover drill
escalation: {backup: 2m, commander: 5m}
journal: %q
sources:
  - {id: prom, type: prometheus, url: "http://127.0.0.1:1", interval: 1h, timeout: 2s}
services:
  - id: tokens
    name: Tokens
    owner: alice
    panes:
      - {id: p95, title: p95 latency, source: prom, query: q1, unit: s, warn: 0.5, crit: 1}
roster:
  - {handle: maya, name: Maya, ssh_keys: [%q]}
  - {handle: alice, name: Alice, ssh_keys: [%q]}
roles: {commander: maya}
slack: {api_url: %q, channel: %q, bot_token: "${WR_DRILL_BOT}"}
`, pgURL, keys["maya"].line, keys["alice"].line, slow.URL+"/api/", sl.ChannelID())
	cfgPath := filepath.Join(dir, "warroom.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &foDrill{t: t, cfg: cfgPath, keys: keys, logDir: t.TempDir(), httpc: &http.Client{Timeout: 5 * time.Second},
		env: []string{"WARROOM_TEST_MAIN=1", "WR_DRILL_BOT=" + bot, "WARROOM_HTTP_TOKEN=" + drillToken}}
	for i, name := range []string{"node-a", "node-b"} {
		d.nodes[i] = &drillNode{name: name, ssh: freeAddr(t), http: freeAddr(t)}
	}
	defer func() {
		for _, n := range d.nodes {
			if n.cmd != nil && n.cmd.Process != nil {
				n.cmd.Process.Kill()
				<-n.exited
			}
		}
		if t.Failed() {
			for _, n := range d.nodes {
				b, _ := os.ReadFile(filepath.Join(d.logDir, n.name+".log"))
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("%s log (end):\n%s", n.name, b)
			}
		}
	}()
	d.start(d.nodes[0], "leader")
	d.start(d.nodes[1], "standby")
	d.started = time.Now()

	rd, err := journal.OpenReader(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	alertIDs := newAlertIndex(rd)

	res := &results{notes: map[string]int64{}, alerts: map[string]bool{}, acks: map[string]bool{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var opN atomic.Int64
	const workers = 3
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(20+rng.IntN(60)) * time.Millisecond):
				}
				n := d.nodes[rng.IntN(2)]
				if !n.up.Load() {
					continue
				}
				c, gen := n.client()
				k := opN.Add(1)
				failed := func(what string, err error) {
					if n.up.Load() && n.gen.Load() == gen {
						res.mu.Lock()
						res.survivors++
						res.failed = append(res.failed, fmt.Sprintf("%s on %s: %v", what, n.name, err))
						res.mu.Unlock()
					}
				}
				if k%20 != 0 {
					text := fmt.Sprintf("drill note %d", k)
					out, err := sshCmd(c, "note "+text)
					if err != nil {
						failed("note", fmt.Errorf("%v: %s", err, out))
						continue
					}
					seq, _ := strconv.ParseInt(tailSeq.FindStringSubmatch(out)[1], 10, 64)
					res.mu.Lock()
					res.notes[text] = seq
					res.mu.Unlock()
					continue
				}
				name := fmt.Sprintf("DrillAlert%d", k)
				if code, err := postAlert(d.httpc, n, name); err != nil || code != http.StatusOK {
					failed("webhook", fmt.Errorf("%d %v", code, err))
					continue
				}
				res.mu.Lock()
				res.alerts[name] = true
				res.mu.Unlock()
				id := alertIDs.find(name)
				if id == "" {
					failed("alert id", fmt.Errorf("%s not in the log", name))
					continue
				}
				n2 := d.nodes[rng.IntN(2)]
				if !n2.up.Load() {
					continue
				}
				c2, gen2 := n2.client()
				if out, err := sshCmd(c2, "ack "+id); err != nil {
					if n2.up.Load() && n2.gen.Load() == gen2 {
						res.mu.Lock()
						res.survivors++
						res.failed = append(res.failed, fmt.Sprintf("ack on %s: %v %s", n2.name, err, out))
						res.mu.Unlock()
					}
					continue
				}
				res.mu.Lock()
				res.acks[id] = true
				res.mu.Unlock()
			}
		}()
	}

	rng := mrand.New(mrand.NewPCG(19, uint64(time.Now().UnixNano())))
	var failovers []time.Duration
	leader, standby := d.nodes[0], d.nodes[1]
	for i := range kills {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		standby.mu.Lock()
		sMaya, sPtyIn, sOut, sTail := standby.maya, standby.ptyIn, standby.ptyOut, standby.tail
		standby.mu.Unlock()
		tailBefore, _ := sTail.state()
		outBefore := sOut.Len()

		leader.up.Store(false)
		killed := time.Now()
		if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for !strings.HasPrefix(d.health(standby), "ok leader") {
			if time.Since(killed) > 10*time.Second {
				t.Fatalf("kill %d: %s did not lead within 10 s: %q", i+1, standby.name, d.health(standby))
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(killed)
		failovers = append(failovers, took)
		<-leader.exited

		// The sessions on the standby never noticed: the same connection
		// runs a command, the dashboard takes a note typed into it, and
		// the tail goes on without a gap.
		if out, err := sshCmd(sMaya, "whoami"); err != nil || strings.TrimSpace(out) != "maya" {
			t.Fatalf("kill %d: the standby's ssh connection: %q %v", i+1, out, err)
		}
		typed := fmt.Sprintf("typed after failover %d", i+1)
		if _, err := sPtyIn.Write([]byte("n")); err != nil {
			t.Fatalf("kill %d: the standby's dashboard: %v", i+1, err)
		}
		time.Sleep(100 * time.Millisecond)
		sPtyIn.Write([]byte(typed + "\r"))
		deadline := time.Now().Add(10 * time.Second)
		for !sTail.has(typed) {
			if time.Now().After(deadline) {
				last, bad := sTail.state()
				t.Fatalf("kill %d: the note typed into the standby's dashboard never reached its tail (tail at #%d %s)", i+1, last, bad)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if last, bad := sTail.state(); bad != "" || last <= tailBefore {
			t.Fatalf("kill %d: the standby's tail: at #%d (was #%d) %s", i+1, last, tailBefore, bad)
		}
		// The dashboard (on its timeline) draws the note, and its clock
		// ticks every second.
		for sOut.Len() <= outBefore {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: the standby's dashboard drew nothing after the failover", i+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("kill %d: %s led %v after %s was killed", i+1, standby.name, took.Round(time.Millisecond), leader.name)

		d.start(leader, "standby")
		leader, standby = standby, leader
	}
	close(stop)
	wg.Wait()
	t.Logf("the kills took %v", time.Since(d.started).Round(time.Millisecond))
	drainFrom := time.Now()

	// Everything people saw accepted is in the log, exactly once.
	if err := rd.Refresh(); err != nil {
		t.Fatal(err)
	}
	vr, err := journal.Verify(context.Background(), pgURL, func(je journal.Event) error { _, err := incident.FromJournal(je); return err })
	if err != nil || !vr.OK() {
		t.Fatalf("verify: %+v %v", vr.Problems, err)
	}
	noteCount, ackCount, alertCount := map[string]int{}, map[string]int{}, map[string]int{}
	err = rd.Replay(context.Background(), 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err != nil {
			return err
		}
		switch ev.Kind {
		case incident.KindNote:
			noteCount[ev.Text]++
		case incident.KindAck:
			if ev.Alert != nil {
				ackCount[ev.Alert.ID]++
			}
		case incident.KindAlert:
			if ev.Alert != nil {
				for name := range res.alerts {
					if strings.Contains(ev.Text, name) {
						alertCount[name]++
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for text, seq := range res.notes {
		if noteCount[text] != 1 {
			t.Errorf("note %q (answered #%d) is in the log %d times", text, seq, noteCount[text])
		}
	}
	for text, n := range noteCount {
		if n > 1 {
			t.Errorf("note %q is in the log %d times", text, n)
		}
	}
	for id := range res.acks {
		if ackCount[id] != 1 {
			t.Errorf("ack of %s is in the log %d times", id, ackCount[id])
		}
	}
	for name := range res.alerts {
		if alertCount[name] == 0 {
			t.Errorf("alert %s (webhook answered 200) is not in the log", name)
		}
	}
	res.mu.Lock()
	if res.survivors > 0 {
		t.Errorf("%d commands failed on a node that was not killed, the first: %v", res.survivors, res.failed[:min(5, len(res.failed))])
	}
	res.mu.Unlock()

	// Slack: every event, none twice.
	last := vr.LastSeq
	deadline := time.Now().Add(90 * time.Second)
	var counts map[int64]int
	for {
		counts = slackSeqs(sl.Messages(sl.ChannelID()))
		missing := int64(0)
		for s := int64(1); s <= last; s++ {
			if counts[s] == 0 {
				missing = s
				break
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			cur, _ := rd.Cursor(context.Background(), "slack")
			rows, _ := rd.SlackMessages(context.Background())
			for _, r := range rows {
				if slices.Contains(r.Seqs, missing) || r.State != journal.SlackDelivered {
					t.Logf("outbox row %d %s %s seqs %d..%d uncertain %v checks %d err %q", r.ID, r.Kind, r.State, r.Seq, r.LastSeq, r.WasUncertain, r.Checks, r.Error)
				}
			}
			for _, n := range d.nodes {
				t.Logf("%s: %s", n.name, d.health(n))
				if resp, err := d.httpc.Get("http://" + n.http + "/metrics"); err == nil {
					var b bytes.Buffer
					b.ReadFrom(resp.Body)
					resp.Body.Close()
					for _, l := range strings.Split(b.String(), "\n") {
						if strings.Contains(l, "slack") && !strings.HasPrefix(l, "#") {
							t.Logf("%s: %s", n.name, l)
						}
					}
				}
			}
			reqs := sl.Requests()
			for _, r := range reqs[max(0, len(reqs)-15):] {
				t.Logf("slack %s %s %d %s applied %v", r.Time.Format("15:04:05.000"), r.Method, r.Status, r.Error, r.Applied)
			}
			t.Logf("slack violations: %v", sl.Violations())
			msgs := sl.Messages(sl.ChannelID())
			for _, m := range msgs[max(0, len(msgs)-6):] {
				t.Logf("slack message %s thread %q: %.300q", m.TS, m.ThreadTS, m.Text)
			}
			t.Fatalf("Slack never got #%d (of %d); the mirror's cursor is at #%d, %d outbox rows", missing, last, cur, len(rows))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("Slack had every event %v after the load stopped", time.Since(drainFrom).Round(time.Millisecond))
	rows, err := rd.SlackMessages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	uncertain := 0
	for _, r := range rows {
		if r.WasUncertain {
			uncertain++
		}
	}
	var dups []int64
	for s, n := range counts {
		if n > 1 {
			dups = append(dups, s)
		}
	}
	slices.Sort(dups)
	if len(dups) > 0 {
		t.Errorf("%d events are in Slack more than once, the first #%v", len(dups), dups[:min(10, len(dups))])
	}

	sorted := slices.Clone(failovers)
	slices.Sort(sorted)
	res.mu.Lock()
	t.Logf("%d kills: failover median %v, max %v; %d events, %d notes, %d alerts and %d acks accepted; Slack %d messages, %d found again after a lost answer",
		kills, sorted[len(sorted)/2].Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond), last,
		len(res.notes), len(res.alerts), len(res.acks), len(sl.Messages(sl.ChannelID())), uncertain)
	res.mu.Unlock()
}

func postAlert(c *http.Client, n *drillNode, name string) (int, error) {
	body := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":%q,"service":"tokens","severity":"critical"},"annotations":{"summary":"drill"}}]}`, name)
	req, err := http.NewRequest(http.MethodPost, "http://"+n.http+"/api/alertmanager", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+drillToken)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// alertIndex finds the id of an alert by its name in the log, as a person
// reads it off the dashboard.
type alertIndex struct {
	mu  sync.Mutex
	r   journal.Reader
	pos int64
	ids map[string]string
}

func newAlertIndex(r journal.Reader) *alertIndex {
	return &alertIndex{r: r, ids: map[string]string{}}
}

var alertName = regexp.MustCompile(`DrillAlert\d+`)

func (a *alertIndex) find(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.ids[name]; ok {
		return id
	}
	_ = a.r.Replay(context.Background(), a.pos, func(je journal.Event) error {
		a.pos = je.Seq
		ev, err := incident.FromJournal(je)
		if err == nil && ev.Kind == incident.KindAlert && ev.Alert != nil {
			if m := alertName.FindString(ev.Text); m != "" {
				a.ids[m] = ev.Alert.ID
			}
		}
		return nil
	})
	return a.ids[name]
}

// slackSeq is the event marker each Slack message carries.
var slackSeq = regexp.MustCompile("`#(\\d+)`")

// slackSeqs counts, per event seq, the messages that carry it (lines,
// digests and alert messages, which are edited in place); a page repeats
// an alert by design and only shows that the seq reached Slack (count 0
// is then stored as -1: present, not counted).
func slackSeqs(msgs []slacksim.Message) map[int64]int {
	out := map[int64]int{}
	for _, m := range msgs {
		page := strings.Contains(m.Text, "*PAGE*")
		for _, s := range slackSeq.FindAllStringSubmatch(m.Text, -1) {
			n, _ := strconv.ParseInt(s[1], 10, 64)
			switch {
			case !page && out[n] < 0:
				out[n] = 1
			case !page:
				out[n]++
			case out[n] == 0:
				out[n] = -1
			}
		}
	}
	return out
}
