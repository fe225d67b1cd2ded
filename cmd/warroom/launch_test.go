package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/textsafe/hostile"
)

const launchRoom = `incident:
  name: launch room
  launch: %s
sources:
  - id: prom
    type: prometheus
    url: http://127.0.0.1:9
services:
  - id: tokens
    owner: tomas
    panes:
      - id: p95
        source: prom
        query: q
        unit: s
roster:
  - handle: rosa
  - handle: tomas
  - handle: ada
roles:
  commander: rosa
launch:
  criteria:
    - id: load-test
      load_test: [p95 < 500ms, error_rate < 1%%]
      expect:
        - {pane: tokens/p95, band: [p50, p95]}
    - id: nat-sign-off
      sign_off: ada
`

// launchState reads the room's launch board.
func launchState(t *testing.T, r *room.Room) *incident.State {
	t.Helper()
	st, sub, err := r.Engine.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	r.Engine.Unsubscribe(sub)
	return st
}

// TestLaunchCommandsReachTheRunningRoom: a CI job imports k6 and vegeta
// results, a person signs off and the commander decides, each from
// another process through the room's control socket, as a roster person
// with that person's permissions; answers are "accepted #seq" or
// refused with the reason, with the CLI's exit codes.
func TestLaunchCommandsReachTheRunningRoom(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	cfgPath := filepath.Join(dir, "warroom.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(launchRoom, t0.Format(time.RFC3339))), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "warroom.db")
	r := openCLIRoom(t, cfgPath, journal)
	t.Cleanup(func() { r.Close() })
	fixture := func(name string) string { return filepath.Join("..", "..", "launch", "testdata", name) }
	do := func(args ...string) (int, string, string) {
		t.Helper()
		code, out, errs := runCLI(append([]string{"launch"}, append(args, "--journal", journal)...)...)
		if bad := hostile.Find([]byte(out + errs)); bad != "" {
			t.Fatalf("launch %v printed %s", args, bad)
		}
		return code, out, errs
	}
	green := func(id string) bool { return launchState(t, r).Launch.Criterion(id).Green }

	code, out, errs := do("status")
	if code != 0 || !strings.Contains(out, "0 of 2 green; no decision yet") || !strings.Contains(out, "WAIT  nat-sign-off no evidence yet: ada's sign-off") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}

	// A failing vegeta result is accepted, and keeps the criterion red.
	code, out, errs = do("import", fixture("vegeta-fail.json"), "--criterion", "load-test", "--as", "tomas")
	if code != 0 || !strings.HasPrefix(out, "accepted #") || !strings.Contains(out, "load-test is red: vegeta result vegeta-fail.json fails p95 < 500ms, error_rate < 1%") {
		t.Fatalf("import failing: exit %d\n%s%s", code, out, errs)
	}
	if green("load-test") {
		t.Fatal("a failing result turned load-test green")
	}
	// A passing k6 result, the plan's only load-test criterion by default.
	code, out, errs = do("import", fixture("k6-summary-pass.json"), "--as", "tomas")
	if code != 0 || !strings.Contains(out, "load-test is green: k6 result k6-summary-pass.json meets 2 threshold(s)") {
		t.Fatalf("import passing: exit %d\n%s%s", code, out, errs)
	}
	if !green("load-test") {
		t.Fatal("a passing result left load-test red")
	}
	// Its numbers are the pane's expected curve after T-0.
	if code, out, _ := do("status"); code != 0 || !strings.Contains(out, "expected on tokens/p95 p50–p95: 161ms – 403ms from k6 k6-summary-pass.json #") {
		t.Fatalf("status shows no expected curve: exit %d\n%s", code, out)
	}
	// A file that is no result is bad input; nothing reaches the room.
	if code, _, errs := do("import", cfgPath, "--as", "tomas"); code != 1 || !strings.Contains(errs, "not a k6 --summary-export file or a vegeta JSON report") {
		t.Fatalf("import of the war-room file: exit %d %s", code, errs)
	}
	if code, _, errs := do("import", filepath.Join(dir, "missing.json"), "--as", "tomas"); code != 1 || !strings.Contains(errs, "no such file") {
		t.Fatalf("import of a missing file: exit %d %s", code, errs)
	}

	// Only the person the criterion names signs it off.
	if code, _, errs := do("signoff", "nat-sign-off", "--as", "rosa"); code != 3 || !strings.Contains(errs, "refused: nat-sign-off is signed off by ada, not rosa") {
		t.Fatalf("signoff as rosa: exit %d %s", code, errs)
	}
	// The note's bytes never reach the terminal raw.
	code, out, errs = do("signoff", "--as", "ada", "--note", "8 IPs \x1b]52;c;AAAA\x07attached")
	if code != 0 || !strings.Contains(out, "nat-sign-off is green: ada signed off: 8 IPs") {
		t.Fatalf("signoff as ada: exit %d\n%s%s", code, out, errs)
	}
	if !green("nat-sign-off") {
		t.Fatal("the sign-off did not turn its criterion green")
	}

	// Only the commander decides.
	if code, _, errs := do("decide", "go", "--as", "ada"); code != 3 || !strings.Contains(errs, "refused: only the commander (rosa) can decide the launch") {
		t.Fatalf("decide as ada: exit %d %s", code, errs)
	}
	if code, _, errs := do("decide", "hold", "--as", "rosa"); code != 2 || !strings.Contains(errs, "hold needs the new T-0") {
		t.Fatalf("hold without --t0: exit %d %s", code, errs)
	}
	if code, _, errs := do("decide", "maybe", "--as", "rosa"); code != 2 {
		t.Fatalf("decide maybe: exit %d %s", code, errs)
	}
	code, out, errs = do("decide", "hold", "--t0", "+30m", "--as", "rosa")
	if code != 0 || !strings.Contains(out, "DECISION - rosa holds the launch: new T-0") {
		t.Fatalf("hold: exit %d\n%s%s", code, out, errs)
	}
	if got, _ := launchState(t, r).T0(nil); got.Sub(time.Now().Add(30*time.Minute)).Abs() > time.Minute {
		t.Fatalf("T-0 after the hold is %s, want about 30 minutes from now", got)
	}
	// Withdrawn evidence turns red again; going then needs a reason.
	if code, out, errs := do("signoff", "nat-sign-off", "--withdraw", "--as", "ada"); code != 0 || !strings.Contains(out, "nat-sign-off is red: ada withdrew the sign-off") {
		t.Fatalf("withdraw: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := do("decide", "go", "--as", "rosa"); code != 3 || !strings.Contains(errs, "1 of 2 criteria are not green (nat-sign-off): give an override reason") {
		t.Fatalf("go with a red criterion: exit %d %s", code, errs)
	}
	code, out, errs = do("decide", "go", "--override", "ada signed off on the call", "--as", "rosa")
	if code != 0 || !strings.Contains(out, "rosa decided GO overriding 1 red criteria (nat-sign-off): ada signed off on the call") {
		t.Fatalf("go with an override: exit %d\n%s%s", code, out, errs)
	}
	d := launchState(t, r).Launch.LastDecision()
	if d == nil || d.Decision != incident.DecisionGo || d.By != "rosa" || d.Override != "ada signed off on the call" {
		t.Fatalf("decision in the room: %+v", d)
	}
	code, out, _ = do("status")
	if code != 0 || !strings.Contains(out, "1 of 2 green; GO by rosa") || !strings.Contains(out, "override: ada signed off on the call") {
		t.Fatalf("status after go: exit %d\n%s", code, out)
	}

	// Someone not on the roster, and a journal no room serves.
	if code, _, errs := do("signoff", "--as", "mallory"); code != 2 || !strings.Contains(errs, "not on the roster") {
		t.Fatalf("signoff as mallory: exit %d %s", code, errs)
	}
	// The readiness record lists the expected curve with its values.
	code, out, errs = runCLI("export", "--readiness", "--journal", journal, "--format", "md")
	if code != 0 || !strings.Contains(out, "| tokens/p95 | band p50–p95 | 161ms – 403ms | k6 k6-summary-pass.json #") {
		t.Fatalf("export --readiness: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = runCLI("launch", "status", "--journal", filepath.Join(dir, "other.db"))
	if code != 3 || !strings.Contains(errs, "other.db.sock") {
		t.Fatalf("status of no room: exit %d %s", code, errs)
	}
}

// TestLaunchStatusWithoutAPlan: a room whose file has no launch plan has
// no board; status says so and exits 1 (the input is bad), as ssh HOST
// launch and export --readiness do.
func TestLaunchStatusWithoutAPlan(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(launchRoom, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	cfg = cfg[:strings.Index(cfg, "\nlaunch:\n")+1]
	cfgPath := filepath.Join(dir, "warroom.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "warroom.db")
	r := openCLIRoom(t, cfgPath, journal)
	t.Cleanup(func() { r.Close() })
	code, out, errs := runCLI("launch", "status", "--journal", journal)
	if code != 1 || !strings.Contains(errs, "no launch plan") {
		t.Fatalf("status without a plan: exit %d\n%s%s", code, out, errs)
	}
}
