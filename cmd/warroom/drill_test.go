package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDrillHeadlessScoresAndCompares: warroom drill --injects
// db-exhaustion --headless runs to its end and prints the scores; a
// second run of the same injects compares with the first.
func TestDrillHeadlessScoresAndCompares(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two accelerated drills")
	}
	dir := t.TempDir()
	run := func() string {
		// The headless default speed, 20: each second of the machine's is
		// 20 of the drill's, so a source's 3 s timeout is 150 ms here. At
		// 60 (50 ms) a race-instrumented build on a loaded machine timed
		// out its polls and the inject's alert never fired.
		code, out, errs := runCLI("drill", "--injects", "db-exhaustion", "--headless", "--dir", dir)
		if code != 0 {
			t.Fatalf("drill: exit %d\n%s%s", code, out, errs)
		}
		if !strings.Contains(errs, "DRILL db-exhaustion") || !strings.Contains(out, "DECLARE - DRILL db-exhaustion") {
			t.Fatalf("the drill is not marked DRILL:\n%s", errs)
		}
		return out
	}
	first := run()
	for _, want := range []string{
		`= Drill db-exhaustion scores \(first of these injects here\):`,
		`=   tokens/db_conns → db-terminate-idle-sessions`,
		`=     time to ack       [0-9hms]+ +by tomas`,
		`=     time to request   [0-9hms]+ +by tomas`,
		`=     time to approve   [0-9hms]+ +by dev`,
		`=     time to mitigate  [0-9hms]+`,
		`=   missed escalations: 0`,
	} {
		if !regexp.MustCompile(want).MatchString(first) {
			t.Errorf("first drill lacks %q:\n%s", want, tail(first))
		}
	}
	if strings.Contains(first, "not done") {
		t.Errorf("a step was not done:\n%s", tail(first))
	}
	second := run()
	for _, want := range []string{
		`= Drill db-exhaustion scores, compared with the drill of `,
		`=     time to ack       [0-9hms]+ +by tomas — (same as last time|[0-9hms]+ (faster|slower) than last time \([0-9hms]+\))`,
		`=     time to mitigate  [0-9hms]+ +— (same as last time|[0-9hms]+ (faster|slower) than last time \([0-9hms]+\))`,
		`\(last time 0\)`,
	} {
		if !regexp.MustCompile(want).MatchString(second) {
			t.Errorf("second drill lacks %q:\n%s", want, tail(second))
		}
	}
	// Each drill kept its journal, score and report.
	for _, pat := range []string{"*.db", "*.json", "*.md"} {
		m, _ := filepath.Glob(filepath.Join(dir, "db-exhaustion", pat))
		if len(m) != 2 {
			t.Errorf("%s: %v", pat, m)
		}
	}
	m, _ := filepath.Glob(filepath.Join(dir, "db-exhaustion", "*.md"))
	b, _ := os.ReadFile(m[len(m)-1])
	if !strings.Contains(string(b), "# DRILL db-exhaustion") || !strings.Contains(string(b), "compared with") {
		t.Errorf("report:\n%s", b)
	}
}

func tail(s string) string {
	if i := strings.Index(s, "= Drill"); i >= 0 {
		return s[i:]
	}
	return s
}

func TestDrillInjectsAreChecked(t *testing.T) {
	code, out, _ := runCLI("drill", "--list")
	if code != 0 || !strings.Contains(out, "504-committed") || !strings.Contains(out, "rpc-lag") || !strings.Contains(out, "nat-exhaustion") || !strings.Contains(out, "db-exhaustion") {
		t.Fatalf("list: %d %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: x\ninjects:\n  - at: 1m\n    fault: meteor_strike\nexpect: []\n"), 0o600)
	code, _, errs := runCLI("drill", "--injects", bad, "--headless")
	if code != 1 || !strings.Contains(errs, "unknown fault") || !strings.Contains(errs, "expect:") {
		t.Fatalf("bad injects: %d %s", code, errs)
	}
	if code, _, errs := runCLI("drill", "--injects", "nope", "--headless"); code != 1 || !strings.Contains(errs, "db-exhaustion") {
		t.Fatalf("unknown injects: %d %s", code, errs)
	}
}
