package export

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// engineFold folds a journal as incident.New replays it into the engine.
func engineFold(t *testing.T, j journal.Reader) *incident.State {
	t.Helper()
	st := incident.NewState()
	err := j.Replay(context.Background(), 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err == nil {
			st.Apply(ev)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// agreeWithEngine loads the journal at path both ways and fails where the
// report tells the incident differently from the engine.
func agreeWithEngine(t *testing.T, path string) *Report {
	t.Helper()
	ctx := context.Background()
	j, err := journal.OpenReader(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	st := engineFold(t, j)
	r, err := Load(ctx, j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != st.Name || !r.DeclaredAt.Equal(st.Declared) {
		t.Errorf("declared %q at %v, the engine %q at %v", r.Name, r.DeclaredAt, st.Name, st.Declared)
	}
	if !reflect.DeepEqual(r.Final, st.Roles) {
		t.Errorf("roles at the last event %+v, the engine %+v", r.Final, st.Roles)
	}
	if n := len(r.Command); n == 0 || r.Command[n-1].Commander != st.Roles.Commander {
		t.Errorf("command spells %+v end elsewhere than the engine's commander %q", r.Command, st.Roles.Commander)
	}
	if !reflect.DeepEqual(r.important, st.Important) {
		t.Errorf("important %v, the engine %v", r.important, st.Important)
	}
	if len(r.Runs) != len(st.Runs) {
		t.Errorf("%d runs, the engine %d", len(r.Runs), len(st.Runs))
	}
	for _, run := range r.Runs {
		s := st.Runs[run.ID]
		if s == nil {
			t.Errorf("run %s: the engine has none", run.ID)
			continue
		}
		if run.Outcome != s.State || run.Playbook != s.Playbook || run.Service != s.Service || run.RequestedBy != s.Actor ||
			!run.RequestedAt.Equal(s.Started) || !run.EndedAt.Equal(s.Updated) || run.Hash != s.Hash || !reflect.DeepEqual(run.Params, s.Params) {
			t.Errorf("run %s: %+v, the engine %+v", run.ID, run, s)
		}
	}
	return r
}

// TestLoadFoldsAsTheEngine: the recorded launch and a journal that
// declares twice read the same in an export as in the room.
func TestLoadFoldsAsTheEngine(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	demo := filepath.Join(t.TempDir(), "demo.db")
	if err := os.WriteFile(demo, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := agreeWithEngine(t, demo); len(r.Runs) < 5 || len(r.Command) == 0 {
		t.Fatalf("the demo journal folds to %d runs and %d command spells: not the recorded launch", len(r.Runs), len(r.Command))
	}

	// A journal the engine would not write but may be given (a copy
	// merged by hand): two DECLAREs. The engine takes the last.
	path := filepath.Join(t.TempDir(), "twice.db")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	first := roles.Assignments{Commander: "maya", Services: map[string]roles.Owners{"tokens": {Primary: "alice"}}}
	second := roles.Assignments{Commander: "rosa", Scribe: "sam", Services: map[string]roles.Owners{"tokens": {Primary: "bob"}}}
	yes := true
	evs := []incident.Event{
		{Kind: incident.KindDeclare, Actor: "maya", Text: "first try", Setup: &first},
		{Kind: incident.KindNote, Actor: "maya", Text: "checking"},
		{Kind: incident.KindDeclare, Actor: "rosa", Text: "the real one", Setup: &second},
		{Kind: incident.KindImportant, Actor: "rosa", Ref: 2, Flag: &yes},
		{Kind: incident.KindRun, Actor: "bob", Service: "tokens", Text: "bob requested R5", Run: &incident.RunInfo{ID: "R5", Playbook: "waf-mode", State: incident.RunAwaitingApproval, Params: map[string]string{"mode": "block"}}},
		{Kind: incident.KindRun, Actor: "rosa", Service: "tokens", Text: "rosa approved R5", Run: &incident.RunInfo{ID: "R5", Playbook: "waf-mode", State: incident.RunApproved}},
		{Kind: incident.KindRun, Actor: "warroom", Service: "tokens", Text: "R5 failed", Run: &incident.RunInfo{ID: "R5", Playbook: "waf-mode", State: incident.RunFailed, Error: "HTTP 500"}},
		{Kind: incident.KindOffer, Actor: "rosa", Text: "rosa offers command to maya", Role: &incident.RoleInfo{Role: roles.Commander, Handle: "maya", Stay: roles.Deputy}},
		{Kind: incident.KindAccept, Actor: "maya", Text: "maya took command", Role: &incident.RoleInfo{Role: roles.Commander, Handle: "maya"}},
		{Kind: incident.KindRole, Actor: "maya", Text: "olga is the commander", Role: &incident.RoleInfo{Role: roles.Commander, Handle: "olga"}},
	}
	rows := make([]journal.Event, len(evs))
	for i := range evs {
		evs[i].Seq, evs[i].Time = int64(i+1), t0.Add(time.Duration(i)*time.Minute)
		rows[i] = evs[i].ToJournal()
	}
	if err := j.Append(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r := agreeWithEngine(t, path)
	if r.Name != "the real one" || r.DeclaredBy != "rosa" || !reflect.DeepEqual(r.Setup, second) {
		t.Errorf("declared %q by %q with %+v: want the last DECLARE's", r.Name, r.DeclaredBy, r.Setup)
	}
	var who []string
	for _, s := range r.Command {
		who = append(who, s.Commander)
	}
	if want := []string{"maya", "rosa", "maya", "olga"}; !reflect.DeepEqual(who, want) {
		t.Errorf("command passed %v, want %v", who, want)
	}
	if len(r.Runs) != 1 || r.Runs[0].Error != "HTTP 500" || len(r.Runs[0].Approvals) != 1 || !r.Runs[0].Done {
		t.Errorf("runs %+v", r.Runs)
	}
}
