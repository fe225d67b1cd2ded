package room

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/playbooks"
	slacksim "github.com/warroom/warroom/sim/slack"
	"github.com/warroom/warroom/textsafe/hostile"
)

func f(v float64) *float64 { return &v }

// A room with a Slack section runs the mirror: notes reach Slack, playbook
// slack steps become durable notes, the status reads the mirror, and Close
// stops everything and releases the journal.
func TestRoomRunsTheMirror(t *testing.T) {
	bot, app := slacksim.NewTokens()
	srv := slacksim.New(slacksim.Options{BotToken: bot, AppToken: app})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("WR_TEST_BOT", bot)
	t.Setenv("WR_TEST_APP", app)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "playbooks"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Path:      filepath.Join(dir, "warroom.yaml"),
		Playbooks: "playbooks",
		Incident:  config.Incident{Name: "room test"},
		Sources:   []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1", Interval: config.Duration(time.Hour), Timeout: config.Duration(time.Second)}},
		Services:  []config.Service{{ID: "api", Name: "API", Owner: "ola", Panes: []config.Pane{{ID: "p95", Source: "prom", Query: "q", Crit: f(1)}}}},
		Roster:    []config.Person{{Handle: "maya", Slack: "U0MAYA"}, {Handle: "ola"}},
		Roles:     config.Roles{Commander: "maya"},
		Slack:     &config.Slack{APIURL: srv.APIURL(), Channel: srv.ChannelID(), BotToken: config.Secret{Env: "WR_TEST_BOT"}, AppToken: config.Secret{Env: "WR_TEST_APP"}},
	}
	journalPath := filepath.Join(dir, "j.db")
	r, err := Open(context.Background(), Options{Config: cfg, JournalPath: journalPath, NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Lead().Mirror == nil || r.MirrorStatus() == "" {
		t.Fatal("a slack section starts the mirror and its status is shown")
	}
	if rep := r.Engine.Do(context.Background(), incident.Note{By: "ola", Service: "api", Text: "pool raised"}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if err := (timelineSlack{r}).PostPlaybookMessage(context.Background(), playbooks.SlackMessage{RunID: "R9", Playbook: "split", Service: "api", Text: "split 20/80"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var all []string
		for _, m := range srv.Messages(srv.ChannelID()) {
			all = append(all, m.Text)
		}
		text := strings.Join(all, "\n")
		if strings.Contains(text, "pool raised") && strings.Contains(text, "[R9 split] split 20/80") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Slack never got the note and the playbook message:\n%s", text)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed cleanly: the journal opens again, with both notes in it.
	r2, err := Open(context.Background(), Options{Config: &config.Config{Path: cfg.Path, Playbooks: "playbooks", Incident: cfg.Incident, Sources: cfg.Sources, Services: cfg.Services, Roster: cfg.Roster, Roles: cfg.Roles}, JournalPath: journalPath, NoSources: true})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer r2.Close()
	if r2.Lead().Mirror != nil || r2.MirrorStatus() != "" {
		t.Fatal("no slack section, no mirror")
	}
}

// TestCloseJoinsRunsBeforeTheJournalCloses: Close stops a run in progress
// and waits for it: its process group, which ignores SIGTERM and is
// killed after the grace period, is gone when Close returns. The run is
// interrupted when the room opens again.
func TestCloseJoinsRunsBeforeTheJournalCloses(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "playbooks"), 0o700); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "pid")
	pb := `id: slow
title: A step that takes its time
service: api
description: sleeps
risk: low
lock: {name: slow, timeout: 10m}
steps:
  - id: sleep
    read_only: true
    exec:
      argv: [/bin/sh, -c, 'trap "" TERM; echo $$ > "$PIDFILE"; while :; do sleep 0.1; done']
      env: {PIDFILE: ` + pidFile + `}
`
	if err := os.WriteFile(filepath.Join(dir, "playbooks", "slow.yaml"), []byte(pb), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Path: filepath.Join(dir, "warroom.yaml"), Playbooks: "playbooks",
		Incident: config.Incident{Name: "close test"},
		Services: []config.Service{{ID: "api", Owner: "ola"}},
		Roster:   []config.Person{{Handle: "maya"}, {Handle: "ola"}},
		Roles:    config.Roles{Commander: "maya"},
	}
	journalPath := filepath.Join(dir, "j.db")
	r, err := Open(context.Background(), Options{Config: cfg, JournalPath: journalPath, NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.Lead().Runner.Request(context.Background(), "ola", "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil {
			fmt.Sscan(string(b), &pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("the step never started")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatal("the step's process outlived Close")
	}
	r2, err := Open(context.Background(), Options{Config: cfg, JournalPath: journalPath, NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	st, err := r2.Lead().Runner.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if run := st.Runs[h.ID]; run == nil || run.State != incident.RunInterrupted {
		t.Fatalf("after reopening, the run is %+v", run)
	}
}

// TestFollowPrintsHostileTextInert: the headless output (demo --headless,
// ssh tail) prints notes and alert text with their escape sequences,
// controls and bidi characters made visible.
func TestFollowPrintsHostileTextInert(t *testing.T) {
	cfg := &config.Config{
		Incident: config.Incident{Name: "follow"},
		Services: []config.Service{{ID: "api", Owner: "ola"}},
		Roster:   []config.Person{{Handle: "maya"}, {Handle: "ola"}},
		Roles:    config.Roles{Commander: "maya"},
	}
	r, err := Open(context.Background(), Options{Config: cfg, JournalPath: filepath.Join(t.TempDir(), "j.db"), NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var last int64
	for _, h := range hostile.Corpus {
		h = strings.ToValidUTF8(h, "?")
		for _, cmd := range []incident.Command{incident.Note{By: "ola", Service: "api", Text: h}, incidenttest.Firing("api", incident.LevelCrit, h)} {
			rep := r.Engine.Do(context.Background(), cmd)
			if rep.Err != nil {
				t.Fatal(rep.Err)
			}
			last = rep.Seq
		}
	}
	var out strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := &lineCounter{b: &out, until: last, done: cancel}
	go func() { done <- r.Follow(ctx, w) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not print the corpus")
	}
	if bad := hostile.Find([]byte(out.String())); bad != "" {
		t.Fatalf("headless output: %s", bad)
	}
	if !strings.Contains(out.String(), "NOTE api conceal ␛[8mhidden") {
		t.Fatalf("the note is not shown:\n%s", out.String())
	}
}

// lineCounter collects lines and cancels once the line of seq until is in.
type lineCounter struct {
	b     *strings.Builder
	until int64
	done  context.CancelFunc
}

func (w *lineCounter) Write(p []byte) (int, error) {
	w.b.Write(p)
	if strings.HasPrefix(string(p), fmt.Sprintf("#%d ", w.until)) {
		w.done()
	}
	return len(p), nil
}
