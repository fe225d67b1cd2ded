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
	waitFor(t, 5*time.Second, func() bool { return g.s.Sessions() == 0 })
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

// TestIdleSessionCPU measures the process CPU time (getrusage, server and
// test clients together, since they share the process) of N idle dashboard
// sessions over a window. Run it with WARROOM_CPU_SECONDS=20 (skipped
// otherwise; the race detector inflates it, so use go test without -race).
func TestIdleSessionCPU(t *testing.T) {
	secs := os.Getenv("WARROOM_CPU_SECONDS")
	if secs == "" {
		t.Skip("set WARROOM_CPU_SECONDS to measure")
	}
	d, err := time.ParseDuration(secs + "s")
	if err != nil {
		t.Fatal(err)
	}
	n := 20
	if v := os.Getenv("WARROOM_CPU_SESSIONS"); v != "" {
		fmt.Sscan(v, &n)
	}
	g := newRig(t, nil)
	for i := range n {
		_, out := ptySession(t, g.client([]string{"maya", "alice", "olga"}[i%3]), 120, 40)
		if !waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "test launch") }) {
			t.Fatal("dashboard not shown")
		}
	}
	time.Sleep(2 * time.Second) // let start-up settle
	base := cpuTime()
	time.Sleep(d)
	// WARROOM_CPU_SESSIONS=0 measures the baseline (room open, no sessions).
	used := cpuTime() - base
	pct := 100 * used.Seconds() / d.Seconds()
	t.Logf("%d idle sessions for %v: CPU %v = %.2f%% of one core, %.3f%% per session", n, d, used.Round(time.Millisecond), pct, pct/float64(max(n, 1)))
}
