package tui

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe/hostile"
)

// wafPlan is a requester's dry run of waf-mode as the request records it.
func wafPlan(old, new string) *incident.RunPlan {
	return &incident.RunPlan{Title: "Switch the Cloudflare WAF mode", Risk: "high", At: tNow.Add(-2 * time.Minute).UTC(),
		Steps: []incident.PlanStep{
			{Section: "steps", ID: "read-settings", Kind: "http", What: "GET https://api.cloudflare.test/zones/z1/firewall/waf\n  Authorization: ***"},
			{Section: "steps", ID: "set-mode", Kind: "http", What: "PATCH https://api.cloudflare.test/zones/z1/firewall/waf"},
			{Section: "verify", ID: "bots", Kind: "wait_metric", What: "wait until cloudflare/waf_blocks < 500 holds for 2m0s (timeout 6m0s)"},
			{Section: "rollback", ID: "restore", Kind: "http", What: "PATCH https://api.cloudflare.test/zones/z1/firewall/waf"},
		},
		Changes: []incident.PlanChange{{Step: "set-mode", Field: "mode", Old: old, New: new}}}
}

// runEvents is a room with runs in every kind of state, as the engine
// would have committed them: two requests for the WAF lock waiting for
// approval (one a no-op), a run applying, one interrupted, one done.
func runEvents(st *incident.State) []incident.Event {
	seq := st.LastSeq
	var out []incident.Event
	add := func(ago time.Duration, actor, svc, text string, r incident.RunInfo) string {
		seq++
		if r.ID == "" {
			r.ID = fmt.Sprintf("R%d", seq)
		}
		out = append(out, incident.Event{Seq: seq, Time: tNow.Add(-ago).UTC(), Kind: incident.KindRun, Actor: actor, Service: svc, Text: text, Run: &r})
		return r.ID
	}
	done := add(20*time.Minute, "cleo", "cloudflare", "cleo requested waf-mode (mode=challenge)", incident.RunInfo{Playbook: "waf-mode", State: incident.RunRequested, Params: map[string]string{"mode": "challenge"}, Hash: "1111", Lock: "waf"})
	add(19*time.Minute, "rosa", "cloudflare", "rosa approved "+done, incident.RunInfo{ID: done, Playbook: "waf-mode", State: incident.RunApproved})
	add(18*time.Minute, "cleo", "cloudflare", done+" waf-mode succeeded", incident.RunInfo{ID: done, Playbook: "waf-mode", State: incident.RunSucceeded})
	split := add(9*time.Minute, "tara", "triton", "tara requested rpc-split (triton_percent=20)", incident.RunInfo{Playbook: "rpc-split", State: incident.RunRequested, Params: map[string]string{"triton_percent": "20"}, Hash: "2222", Lock: "rpc-split"})
	add(8*time.Minute, "dev", "triton", "dev approved "+split, incident.RunInfo{ID: split, Playbook: "rpc-split", State: incident.RunApproved})
	add(8*time.Minute, "tara", "triton", split+" step 2/3 apply: PUT http://admin/split", incident.RunInfo{ID: split, Playbook: "rpc-split", State: incident.RunRunning, Step: "apply", Index: 2, Of: 3})
	add(7*time.Minute, "warroom", "triton", split+" rpc-split interrupted (outcome unknown) while running step apply", incident.RunInfo{ID: split, Playbook: "rpc-split", State: incident.RunInterrupted, Step: "apply", Index: 2, Of: 3, Error: "outcome unknown"})
	db := add(4*time.Minute, "tomas", "tokens", "tomas requested scale-db", incident.RunInfo{Playbook: "scale-db", State: incident.RunRequested, Hash: "3333", Lock: "db"})
	add(4*time.Minute, "tomas", "tokens", db+" needs no approval; holds lock db", incident.RunInfo{ID: db, Playbook: "scale-db", State: incident.RunApproved})
	add(3*time.Minute, "tomas", "tokens", db+" step capture done: GET http://db-admin/pool → 200", incident.RunInfo{ID: db, Playbook: "scale-db", State: incident.RunRunning, Step: "capture", Index: 1, Of: 3,
		Output: "HTTP 200\n{\"pool\": 400, \"in_use\": 398}\nsaved pool=400\nsee https://db-admin.example/pools/tokens"})
	add(2*time.Minute, "tomas", "tokens", db+" step 2/3 apply: PUT http://db-admin/pool", incident.RunInfo{ID: db, Playbook: "scale-db", State: incident.RunRunning, Step: "apply", Index: 2, Of: 3})
	block := add(90*time.Second, "cleo", "cloudflare", "cleo requested waf-mode (mode=block threshold=80 notify=true)", incident.RunInfo{Playbook: "waf-mode", State: incident.RunRequested,
		Params: map[string]string{"mode": "block", "threshold": "80", "notify": "true"}, Hash: wafHash, Lock: "waf", Plan: wafPlan("challenge", "block")})
	add(90*time.Second, "cleo", "cloudflare", block+" awaits approval by the commander or deputy", incident.RunInfo{ID: block, Playbook: "waf-mode", State: incident.RunAwaitingApproval})
	same := add(time.Minute, "dev", "cloudflare", "dev requested waf-mode (mode=challenge threshold=80 notify=true)", incident.RunInfo{Playbook: "waf-mode", State: incident.RunRequested,
		Params: map[string]string{"mode": "challenge", "threshold": "80", "notify": "true"}, Hash: "4444", Lock: "waf", Plan: wafPlan("challenge", "challenge")})
	add(time.Minute, "dev", "cloudflare", same+" awaits approval by the commander or deputy; also waiting for it: "+block, incident.RunInfo{ID: same, Playbook: "waf-mode", State: incident.RunAwaitingApproval})
	return out
}

// withRuns feeds the model the runs fixture.
func withRuns(m *Model) {
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Events: runEvents(m.st)}}})
}

// TestRunsGolden: the Runs view, and the approval dialog with the
// requester's dry run (old → new), the values now, and the rival request
// for the same lock, at every size.
func TestRunsGolden(t *testing.T) {
	views := []struct {
		name, handle string
		setup        func(m *Model)
	}{
		{"runs", "rosa", func(m *Model) { withRuns(m); press(m, "5") }},
		{"approval", "rosa", func(m *Model) { withRuns(m); press(m, "5", "A") }},
		{"run_record", "rosa", func(m *Model) { withRuns(m); press(m, "5", "down", "down", "enter") }},
	}
	for _, v := range views {
		for _, sz := range goldenSizes {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, sz.w, sz.h), func(t *testing.T) {
				f, r := newFakeEngine(), newFakeRunner()
				m := newRunnerModel(t, f, r, v.handle, sz.w, sz.h)
				v.setup(m)
				if os.Getenv("TUI_SHOW") != "" {
					fmt.Println(plainView(m))
				}
				golden.RequireEqual(t, asciiView(m))
			})
		}
	}
}

// TestColourGolden renders every view once in the 16-colour ANSI profile,
// so that a change of colour shows in review as a golden diff.
func TestColourGolden(t *testing.T) {
	type view struct {
		name    string
		handle  string
		fixture func() *fakeEngine
		setup   func(f *fakeEngine, m *Model)
	}
	views := []view{
		{"runs", "rosa", newFakeEngine, func(f *fakeEngine, m *Model) { withRuns(m); press(m, "5") }},
		{"approval", "rosa", newFakeEngine, func(f *fakeEngine, m *Model) { withRuns(m); press(m, "5", "A") }},
		// Before T-0 the dashboard opens on the launch board.
		{"launch", "rosa", launchFixture, nil},
	}
	for _, v := range goldenViews {
		views = append(views, view{v.name, v.handle, newFakeEngine, v.setup})
	}
	for _, v := range commsGoldenViews {
		views = append(views, view{v.name, v.handle, commsFakeEngine, func(_ *fakeEngine, m *Model) { v.setup(m) }})
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			f, r := v.fixture(), newFakeRunner()
			m := New(Options{Engine: f, Handle: v.handle, Width: 120, Height: 40, Profile: colorprofile.ANSI, Theme: ThemeDark, NoTick: true, Playbooks: r})
			st, sub, _ := f.Subscribe(t.Context(), 1)
			m.Update(snapshotMsg{st: st, sub: sub})
			m.Update(tickMsg{now: f.clk.Now()})
			if v.setup != nil {
				v.setup(f, m)
			}
			var buf bytes.Buffer
			w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ANSI}
			_, _ = w.Write([]byte(m.View().Content))
			golden.RequireEqual(t, buf.String())
		})
	}
}

// TestRunsViewKeepsSelectionAndShowsWhy: the Runs view lists what needs
// the commander first, keeps the cursor on its run when the order
// changes, and says why an action is not possible.
func TestRunsViewKeepsSelectionAndShowsWhy(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "rosa", 200, 40)
	withRuns(m)
	press(m, "5")
	rows := m.runRows()
	if rows[0].State != incident.RunInterrupted || rows[1].State != incident.RunAwaitingApproval || rows[2].State != incident.RunAwaitingApproval {
		t.Fatalf("order %s %s %s", rows[0].State, rows[1].State, rows[2].State)
	}
	wantScreen(t, m, "step 2/3 apply", "rosa or dev", "rpc-split (held)", "5 Runs (4, 3 need you)")
	// The running scale-db: select it, then the interrupted run is
	// resolved: it moves down the list, the cursor stays on scale-db.
	selectRun(m, "scale-db")
	if m.selectedRun().Playbook != "scale-db" {
		t.Fatalf("selected %s", m.selectedRun().ID)
	}
	split := rows[0].ID
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Events: []incident.Event{{Seq: m.st.LastSeq + 1, Time: tNow.UTC(), Kind: incident.KindRun, Actor: "rosa", Service: "triton",
		Text: "rosa chose to abandon " + split, Run: &incident.RunInfo{ID: split, Playbook: "rpc-split", State: incident.RunAbandoned}}}}}})
	if got := m.selectedRun(); got.Playbook != "scale-db" {
		t.Fatalf("after the re-sort the cursor moved to %s %s", got.ID, got.Playbook)
	}
	// tomas may cancel his own run but not resolve anything.
	tm := newRunnerModel(t, f, r, "tomas", 200, 40)
	withRuns(tm)
	press(tm, "5")
	wantScreen(t, tm, "✗ x resolve (verify, rollback or abandon): only the commander (rosa) decides")
	press(tm, "x")
	wantToast(t, tm, "only the commander (rosa) decides what happens to")
	if len(r.callsWith("resolve")) != 0 {
		t.Fatal("a refused resolve was sent")
	}
	selectRun(tm, "scale-db")
	press(tm, "c")
	wantScreen(t, tm, "Cancel "+tm.selectedRun().ID+" scale-db while running?")
	press(tm, "y")
	if got := r.callsWith("cancel"); len(got) != 1 || got[0] != "cancel tomas "+tm.selectedRun().ID {
		t.Fatalf("cancel calls %v", got)
	}
}

// TestApprovalDialogPicksBetweenRivals: two requests want the WAF lock;
// the dialog shows both, flags the no-op, and approves the one on screen.
func TestApprovalDialogPicksBetweenRivals(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "rosa", 140, 45)
	withRuns(m)
	press(m, "5", "A")
	d, ok := m.chooser.dialog.(*approvalDialog)
	if !ok || len(d.ids) != 2 {
		t.Fatalf("the dialog shows both requests for the lock: %+v", d)
	}
	block, same := d.ids[0], d.ids[1]
	wantScreen(t, m, "2 requests want lock waf", block+" by cleo", same+" by dev",
		"mode: challenge → block", "now: challenge (as seen)", "risk HIGH", "read-settings: GET https://api.cloudflare.test/zones/z1/firewall/waf", "rollback  restore")
	if strings.Contains(plainView(m), "Authorization") {
		t.Fatal("a step shows its headers: the first line is the request")
	}
	press(m, "right")
	wantScreen(t, m, "Approve run "+same+"?", "mode: challenge → challenge (no change)")
	press(m, "left", "y")
	if got := r.callsWith("approve"); len(got) != 1 || got[0] != "approve rosa "+block+" "+wafHash {
		t.Fatalf("approve calls %v", got)
	}
}

// TestResolveAndClearAskFirst: resolving an alert whose condition still
// holds asks and says why; unassigning the only owner warns.
func TestResolveAndClearAskFirst(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 160, 40)
	press(m, "2")
	a := m.selectedAlert()
	press(m, "x")
	wantScreen(t, m, "Resolve "+a.ID+" (Tokens)? Its condition still holds", "it will fire again as a new alert")
	press(m, "esc")
	wantSent(t, f)
	wantToast(t, m, "cancelled: nothing was sent")
	// Banners has only an owner: unassigning him leaves it unowned.
	press(m, "4")
	for m.selectedSlot() != "owner|banners" {
		press(m, "down")
	}
	press(m, "u")
	wantScreen(t, m, "Unassign ben as owner of Banners? Banners will have no owner")
	press(m, "y")
	wantSent(t, f, incident.Assign{By: "rosa", Role: "owner", Service: "banners"})
}

func (m *Model) selectedSlot() string { return m.roleCur.id }

// TestQuitAsksTwiceDuringARun: the dashboard that runs the room says the
// room stops, lists the runs in flight, and asks twice.
func TestQuitAsksTwiceDuringARun(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := New(Options{Engine: f, Handle: "rosa", Width: 160, Height: 40, Profile: colorprofile.ASCII, NoTick: true, Playbooks: r, OwnsRoom: true})
	st, sub, _ := f.Subscribe(t.Context(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	withRuns(m)
	press(m, "q")
	wantWords(t, m, "This terminal runs the war room: it stops for everyone", "In flight:", "scale-db running (step 2/3 apply)", "Waiting for approval (will expire)")
	_, cmd := m.Update(kp("y"))
	if cmd != nil {
		t.Fatal("the first y must not quit while a run executes")
	}
	wantWords(t, m, "Really quit?", "interrupts")
	_, cmd = m.Update(kp("y"))
	if cmd == nil {
		t.Fatal("the second y quits")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("the second y returns tea.Quit")
	}
}

// selectRun moves the Runs view's cursor down to the first run of pb.
func selectRun(m *Model, pb string) {
	press(m, "g")
	for i := 0; i < 20 && m.selectedRun().Playbook != pb; i++ {
		press(m, "down")
	}
}

// TestHostileRunText: values a service answered (the dry run's old
// value), step output, a run's error and a string parameter reach the
// Runs view, the approval dialog and the run in full; none of their
// escape sequences or bidi characters reach the terminal raw.
func TestHostileRunText(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "rosa", 160, 50)
	all := strings.Join(hostile.Corpus, " | ")
	seq := m.st.LastSeq
	at := tNow.Add(-time.Minute).UTC()
	id := fmt.Sprintf("R%d", seq+1)
	plan := wafPlan(all, "block")
	plan.Error = all
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Events: []incident.Event{
		{Seq: seq + 1, Time: at, Kind: incident.KindRun, Actor: "cleo", Service: "cloudflare", Text: "cleo requested " + id,
			Run: &incident.RunInfo{ID: id, Playbook: "waf-mode", State: incident.RunRequested, Params: map[string]string{"mode": "block", "note": all}, Hash: wafHash, Lock: "waf", Plan: plan}},
		{Seq: seq + 2, Time: at, Kind: incident.KindRun, Actor: "cleo", Service: "cloudflare", Text: all,
			Run: &incident.RunInfo{ID: id, Playbook: "waf-mode", State: incident.RunAwaitingApproval, Output: all, Error: all}},
	}}}})
	for _, keys := range [][]string{{"5"}, {"5", "enter"}, {"5", "A"}} {
		m.closeOverlay()
		press(m, "esc", "1")
		press(m, keys...)
		out := m.View().Content
		if bad := hostile.Find([]byte(ourSGR.ReplaceAllString(out, ""))); bad != "" {
			t.Fatalf("%v: %s", keys, bad)
		}
	}
}
