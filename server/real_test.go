package server

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// TestRealSSHUnderTmux drives /usr/bin/ssh in a private tmux server and
// checks the dashboard shows up for the key's person.
func TestRealSSHUnderTmux(t *testing.T) {
	sshBin, err1 := exec.LookPath("ssh")
	tmuxBin, err2 := exec.LookPath("tmux")
	if err1 != nil || err2 != nil {
		if os.Getenv("WARROOM_REQUIRE_REAL") == "1" {
			t.Fatalf("ssh or tmux missing: %v %v", err1, err2)
		}
		t.Skipf("ssh or tmux missing (%v, %v); set WARROOM_REQUIRE_REAL=1 to fail instead", err1, err2)
	}
	g := newRig(t, nil)
	k := g.keys["alice"]
	blk, err := gossh.MarshalPrivateKey(k.priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(g.dir, "id_alice")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(g.s.SSHAddr(), ":")
	sock := fmt.Sprintf("warroom-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	tmux := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, tmuxBin, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	sshCmd := strings.Join([]string{sshBin, "-tt", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-i", keyPath, "-p", port, "alice@" + host}, " ")
	if out, err := tmux("new-session", "-d", "-s", "w", "-x", "120", "-y", "40", sshCmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = tmux("kill-server") })
	var screen string
	ok := waitFor(t, 15*time.Second, func() bool {
		screen, _ = tmux("capture-pane", "-p", "-t", "w")
		return strings.Contains(screen, "test launch") && strings.Contains(screen, "alice")
	})
	if !ok {
		t.Fatalf("dashboard not shown; pane:\n%s", screen)
	}
	t.Logf("pane:\n%s", firstLines(screen, 3))
	// q quits (the TUI may ask to confirm; y answers it), then the ssh exits.
	_, _ = tmux("send-keys", "-t", "w", "q")
	time.Sleep(200 * time.Millisecond)
	_, _ = tmux("send-keys", "-t", "w", "y")
	if !waitFor(t, 5*time.Second, func() bool { return g.s.Sessions() == 0 }) {
		t.Fatalf("the session is still open after q, y: %d sessions", g.s.Sessions())
	}
}

func firstLines(s string, n int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[:min(n, len(l))], "\n")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleSessionCPU: idle dashboard sessions cost what changes, the
// clock, not a frame a tick. Over a window it counts the bytes each
// session receives (always) and, with WARROOM_CPU_SECONDS=20, the process
// CPU time (getrusage, server and test clients together, since they share
// the process; run it without -race, which inflates it), and holds both
// to budgets. WARROOM_CPU_SESSIONS sets how many sessions (default 20; 0
// measures the room alone).
func TestIdleSessionCPU(t *testing.T) {
	d, n := 3*time.Second, 5
	secs := os.Getenv("WARROOM_CPU_SECONDS")
	if secs != "" {
		var err error
		if d, err = time.ParseDuration(secs + "s"); err != nil {
			t.Fatal(err)
		}
		n = 20
	}
	if v := os.Getenv("WARROOM_CPU_SESSIONS"); v != "" {
		fmt.Sscan(v, &n)
	}
	g := newRig(t, nil)
	outs := make([]*syncBuf, n)
	for i := range n {
		_, outs[i] = ptySession(t, g.client([]string{"maya", "alice", "olga"}[i%3]), 120, 40)
		if !waitFor(t, 10*time.Second, func() bool { return strings.Contains(outs[i].String(), "test launch") }) {
			t.Fatal("dashboard not shown")
		}
	}
	time.Sleep(2 * time.Second) // let start-up settle
	sent := func() (b int) {
		for _, o := range outs {
			b += len(o.String())
		}
		return b
	}
	base, bytes0, t0 := cpuTime(), sent(), time.Now()
	time.Sleep(d)
	used, bytes, wall := cpuTime()-base, sent()-bytes0, time.Since(t0)
	pct := 100 * used.Seconds() / wall.Seconds()
	perSec := float64(bytes) / wall.Seconds() / float64(max(n, 1))
	t.Logf("%d idle sessions for %v: CPU %v = %.2f%% of one core, %.3f%% per session; %.0f bytes a second per session",
		n, wall.Round(time.Millisecond), used.Round(time.Millisecond), pct, pct/float64(max(n, 1)), perSec)
	// A 120x40 frame is about 10 KB: an idle session gets the clock's
	// few cells a second, never the frame again.
	if n > 0 && perSec > 1000 {
		t.Errorf("an idle session receives %.0f bytes a second: whole frames, not what changed", perSec)
	}
	// Budget: 20 idle sessions under 10% of a core, measured here at
	// WARROOM_CPU_SECONDS=20 without -race.
	if secs != "" && !raceEnabled && n > 0 && pct/float64(n) > 0.5 {
		t.Errorf("%.3f%% of a core per idle session, over the 0.5%% budget", pct/float64(n))
	}
}
