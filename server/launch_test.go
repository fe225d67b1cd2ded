package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/textsafe/hostile"
)

// TestSSHLaunchCommands: a CI job on another machine pushes a load-test
// result with its own key (ssh HOST import < summary.json), a person signs
// off, and anyone reads the board, each as the key's person with that
// person's permissions.
func TestSSHLaunchCommands(t *testing.T) {
	g := newRigWith(t, func(c *config.Config) {
		at := time.Now().Add(time.Hour)
		c.Incident.Launch = &at
		c.Launch = &config.Launch{Criteria: []config.Criterion{
			{ID: "load-test", Title: "load test", LoadTest: []string{"p95 < 500ms", "error_rate < 1%"}},
			{ID: "tokens-sign-off", Title: "tokens ready", SignOff: "alice"},
		}}
	}, nil)
	pipe := func(who, cmd, file string) (string, error) {
		t.Helper()
		sess, err := g.client(who).NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sess.Stdin = f
		out, err := sess.CombinedOutput(cmd)
		return string(out), err
	}
	fixture := func(name string) string { return filepath.Join("..", "launch", "testdata", name) }

	out, err := run(t, g.client("olga"), "launch")
	if err != nil || !strings.Contains(out, "0 of 2 green; no decision yet") || !strings.Contains(out, "WAIT  tokens-sign-off no evidence yet: alice's sign-off") {
		t.Fatalf("launch board: %v\n%s", err, out)
	}
	// An observer supplies no evidence.
	if out, err := pipe("olga", "import", fixture("k6-summary-pass.json")); err == nil || !strings.Contains(out, "refused: olga is an observer") {
		t.Fatalf("import as olga: %v %s", err, out)
	}
	out, err = pipe("alice", "import load-test", fixture("k6-summary-fail.json"))
	if err != nil || !strings.Contains(out, "EVIDENCE - load-test is red: k6 result stdin fails p95 < 500ms, error_rate < 1%") {
		t.Fatalf("import failing: %v\n%s", err, out)
	}
	out, err = pipe("alice", "import", fixture("k6-summary-pass.json"))
	if err != nil || !strings.Contains(out, "EVIDENCE - load-test is green") {
		t.Fatalf("import passing: %v\n%s", err, out)
	}
	// Not a result: refused before anything reaches the room.
	if out, err := pipe("alice", "import", "server_test.go"); err == nil || !strings.Contains(out, "not a k6 --summary-export file or a vegeta JSON report") {
		t.Fatalf("import of Go source: %v %s", err, out)
	}
	if out, err := run(t, g.client("maya"), "signoff tokens-sign-off"); err == nil || !strings.Contains(out, "refused: tokens-sign-off is signed off by alice, not maya") {
		t.Fatalf("signoff as maya: %v %s", err, out)
	}
	out, err = run(t, g.client("alice"), "signoff pool at 400 \x1b[2J")
	if err != nil || !strings.Contains(out, "tokens-sign-off is green: alice signed off: pool at 400") {
		t.Fatalf("signoff as alice: %v\n%s", err, out)
	}
	if bad := hostile.Find([]byte(out)); bad != "" {
		t.Fatalf("the sign-off printed %s", bad)
	}
	out, err = run(t, g.client("olga"), "launch")
	if err != nil || !strings.Contains(out, "2 of 2 green") || !strings.Contains(out, "GREEN tokens-sign-off alice signed off: pool at 400") {
		t.Fatalf("launch board after: %v\n%s", err, out)
	}
}

// TestSSHLaunchWithoutAPlan: in a room whose file has no launch plan,
// ssh HOST launch says so and fails, as warroom launch status does.
func TestSSHLaunchWithoutAPlan(t *testing.T) {
	g := newRig(t, nil)
	out, err := run(t, g.client("olga"), "launch")
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(out, "no launch plan") {
		t.Fatalf("launch without a plan: %v\n%s", err, out)
	}
}
