package room

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/playbooks"
	slacksim "github.com/warroom/warroom/sim/slack"
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
	if r.Mirror == nil || r.MirrorStatus() == "" {
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
	if r2.Mirror != nil || r2.MirrorStatus() != "" {
		t.Fatal("no slack section, no mirror")
	}
}
