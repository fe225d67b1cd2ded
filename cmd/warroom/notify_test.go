package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestLocalDashboardRingsForACritOnYourService runs `warroom demo` in a
// real pty as tomas, the owner of tokens: when the tokens Lambda starts
// throttling (crit), the pty output carries a BEL and an OSC 9 desktop
// notification naming it; with --quiet it carries none.
func TestLocalDashboardRingsForACritOnYourService(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about 20 s")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	type session struct {
		cmd *exec.Cmd
		mu  sync.Mutex
		out bytes.Buffer
	}
	start := func(name string, extra ...string) *session {
		args := append([]string{"demo", "--speed", "20", "--as", "tomas", "--journal", filepath.Join(dir, name+".db")}, extra...)
		cmd := exec.Command(self, args...)
		cmd.Env = append(os.Environ(), "WARROOM_TEST_MAIN=1", "TERM=xterm-256color")
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
		if err != nil {
			t.Fatal(err)
		}
		s := &session{cmd: cmd}
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := f.Read(buf)
				s.mu.Lock()
				s.out.Write(buf[:n])
				s.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			f.Close()
		})
		return s
	}
	text := func(s *session) string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.out.String()
	}
	loud, quiet := start("loud"), start("quiet", "--quiet")
	const osc9 = "\a\x1b]9;warroom: CRIT on tokens"
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(text(loud), osc9) {
		if time.Now().After(deadline) {
			out := text(loud)
			t.Fatalf("no BEL + OSC 9 for a CRIT on tokens in the pty output (%d bytes; last: %q)", len(out), out[max(0, len(out)-1500):])
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The quiet dashboard runs the same seeded story at the same speed,
	// started at the same time: a few seconds more and it has seen the
	// same CRIT, and rung for nothing.
	time.Sleep(3 * time.Second)
	if q := text(quiet); !strings.Contains(q, "CRIT") {
		t.Fatal("the quiet dashboard has not drawn a CRIT yet")
	}
	if q := text(quiet); strings.Contains(q, "\x1b]9;") || strings.Contains(q, "\x1b]777;") {
		t.Fatalf("--quiet rang: %q", q[strings.Index(q, "\x1b]"):])
	}
	i := strings.Index(text(loud), osc9)
	t.Logf("pty output: %q", text(loud)[i:min(len(text(loud)), i+120)])
}
