package mirror

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
	slacksim "github.com/warroom/warroom/sim/slack"
)

// TestMirrorCrashChild is the war-room process of TestMirrorCrash: an
// engine and a mirror on the journal, producing a burst of events, until
// the parent kills it with SIGKILL. In final mode it produces a few more
// and exits once everything is in Slack.
func TestMirrorCrashChild(t *testing.T) {
	path := os.Getenv("WARROOM_MIRROR_CRASH_JOURNAL")
	if path == "" {
		t.Skip("run by TestMirrorCrash")
	}
	fail := func(err error) {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	j, err := journal.Open(path)
	if err != nil {
		fail(err)
	}
	eng, err := incident.New(incident.Options{Config: testConfig(time.Hour), Journal: j, Clock: clock.Real{}})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	go eng.Run(ctx)
	m, err := New(Options{
		Engine: eng, Journal: j, APIURL: os.Getenv("WARROOM_MIRROR_CRASH_SLACK"), Channel: "C0WARROOM", BotToken: botToken,
		HTTPClient: &http.Client{Timeout: 2 * time.Second},
		Rate:       50, Burst: 10, DigestAfter: 20, MaxDigestChars: 4000,
		DefaultRetryAfter: time.Second, MaxBackoff: 200 * time.Millisecond, ReconcileAfter: 50 * time.Millisecond,
	})
	if err != nil {
		fail(err)
	}
	if err := m.Start(ctx); err != nil {
		fail(err)
	}
	fmt.Println("READY")
	final := os.Getenv("WARROOM_MIRROR_CRASH_FINAL") == "1"
	n := 300
	if final {
		n = 20
	}
	var open []string
	for i := 1; i <= n; i++ {
		var cmd incident.Command = incident.Note{By: "alice", Service: "tokens", Text: fmt.Sprintf("crash note %d-%d", os.Getpid(), i)}
		switch {
		case i%40 == 0:
			cmd = incidenttest.Firing("tokens", incident.LevelCrit, fmt.Sprintf("crash alert %d-%d", os.Getpid(), i))
		case i%40 == 20 && len(open) > 0:
			cmd = incident.Ack{By: "maya", AlertID: open[0]}
			open = open[1:]
		}
		r := eng.Do(ctx, cmd)
		if r.Err != nil {
			fail(r.Err)
		}
		if _, ok := cmd.(incident.ImportAlerts); ok {
			open = append(open, r.Events[0].Alert.ID)
		}
	}
	if !final {
		select {} // until killed
	}
	// Drained: nothing left to send or to check, and no post whose
	// outcome the outbox does not know yet (a pending row is a call in
	// flight).
	drained := func() bool {
		st := m.Status()
		m.mu.Lock()
		recon := len(m.recon)
		m.mu.Unlock()
		if st.Lag != 0 || st.Pending != 0 || recon != 0 {
			return false
		}
		rows, err := j.SlackMessages(ctx)
		if err != nil {
			fail(err)
		}
		for _, r := range rows {
			if r.State == journal.SlackPending {
				return false
			}
		}
		return true
	}
	end := time.Now().Add(40 * time.Second)
	for time.Now().Before(end) {
		if drained() {
			fmt.Println("DRAINED", j.LastSeq())
			os.Exit(0)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fail(fmt.Errorf("not drained: %+v", m.Status()))
}

// TestMirrorCrash kills the mirror's process with SIGKILL at random
// moments of a burst (while Slack also rate-limits and loses replies),
// restarts it each time, and checks that nothing was lost and that an
// event appears twice only where a message was marked uncertain.
func TestMirrorCrash(t *testing.T) {
	if os.Getenv("WARROOM_MIRROR_CRASH_JOURNAL") != "" {
		t.Skip("child")
	}
	kills := 6
	if testing.Short() {
		kills = 3
	}
	srv := slacksim.New(slacksim.Options{BotToken: botToken, PostLimit: slacksim.Limit{Rate: 100, Burst: 20}, Seed: 3,
		MethodLimits: map[string]slacksim.Limit{"chat.update": {Rate: 50, Burst: 20}, "conversations.history": {Rate: 50, Burst: 20}}})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.RandomRateLimit(0.02, time.Second)
	srv.DropReplyProbability(0.05)

	path := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))
	run := func(final bool) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMirrorCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WARROOM_MIRROR_CRASH_JOURNAL="+path, "WARROOM_MIRROR_CRASH_SLACK="+srv.APIURL())
		if final {
			cmd.Env = append(cmd.Env, "WARROOM_MIRROR_CRASH_FINAL=1")
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		next := func(d time.Duration) string {
			select {
			case l, ok := <-lines:
				if !ok {
					return "EOF"
				}
				return l
			case <-time.After(d):
				cmd.Process.Kill()
				return "TIMEOUT"
			}
		}
		if l := next(20 * time.Second); l != "READY" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %s", l)
		}
		if final {
			l := next(45 * time.Second)
			cmd.Wait()
			return l
		}
		time.Sleep(time.Duration(50+rng.IntN(500)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		return "KILLED"
	}
	for i := 0; i < kills; i++ {
		run(false)
	}
	if l := run(true); !strings.HasPrefix(l, "DRAINED") {
		t.Fatalf("final run: %s", l)
	}

	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	journaltest.IntegrityCheck(t, path)
	last := j.LastSeq()
	msgs := srv.Messages(srv.ChannelID())
	counts := checkMessages(t, msgs, last)

	rows, err := j.SlackMessages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mayRepeat := map[int64]bool{}
	uncertainAlerts := map[string]bool{}
	uncertainRows, states := 0, map[string]int{}
	for _, r := range rows {
		states[r.State]++
		if !r.WasUncertain {
			continue
		}
		uncertainRows++
		for _, s := range r.Seqs {
			mayRepeat[s] = true
		}
		if r.Kind == kindAlert {
			uncertainAlerts[r.AlertID] = true
		}
	}
	// An alert whose message was uncertain put its later events in the
	// timeline as lines meanwhile; once the message is found again, it
	// shows them too.
	err = j.Replay(context.Background(), 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err == nil && ev.Alert != nil && uncertainAlerts[ev.Alert.ID] {
			mayRepeat[ev.Seq] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for s, n := range counts {
		if n > 1 {
			dups++
			if os.Getenv("CRASH_DEBUG") != "" {
				for _, m := range msgs {
					for _, x := range seqsIn(m.Text) {
						if x == s {
							t.Logf("dup #%d in message %s (edits %d): %.200q", s, m.TS, m.Edits, m.Text)
						}
					}
				}
			}
			if !mayRepeat[s] {
				for _, m := range msgs {
					for _, x := range seqsIn(m.Text) {
						if x == s {
							t.Logf("message %s (edits %d): %.300q", m.TS, m.Edits, m.Text)
						}
					}
				}
				for _, r := range rows {
					for _, x := range r.Seqs {
						if x == s {
							t.Logf("row %+v", r)
						}
					}
				}
				t.Fatalf("event #%d appears %d times but no message carrying it was uncertain", s, n)
			}
		}
	}
	if states[journal.SlackPending] > 0 || states[journal.SlackFailed] > 0 {
		t.Fatalf("outbox states after draining: %v", states)
	}
	drops := 0
	for _, r := range srv.Requests() {
		if r.Dropped {
			drops++
		}
	}
	t.Logf("%d kills, %d events, %d messages (%d replies lost by Slack), %d uncertain messages, %d events shown twice (all uncertain), 0 lost; outbox %v",
		kills, last, len(msgs), drops, uncertainRows, dups, states)
}
