package server

import (
	"context"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
)

// bells counts the bell characters in terminal output that are not the
// terminator of an OSC sequence (window titles end with BEL too).
func bells(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "\x1b]") {
			// Skip to the OSC's end: BEL or ST (ESC \).
			j := strings.IndexAny(s[i+2:], "\a\x1b")
			if j < 0 {
				break
			}
			i += 2 + j
			if s[i] == 0x1b {
				i++ // the backslash of ST
			}
			continue
		}
		if s[i] == '\a' {
			n++
		}
	}
	return n
}

// The pty output of dashboard sessions: a CRIT on alice's service rings
// alice's terminal (BEL, then OSC 9 with the alert), not the commander's
// (not her service), and not alice's quiet session (ssh -t HOST quiet).
func TestDashboardNotifiesCritOnTheViewersService(t *testing.T) {
	g := newRig(t, nil)
	_, alice := ptySession(t, g.client("alice"), 120, 40)
	_, maya := ptySession(t, g.client("maya"), 120, 40)
	quiet, err := g.client("alice").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	quietOut := &syncBuf{}
	quiet.Stdout, quiet.Stderr = quietOut, quietOut
	if err := quiet.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := quiet.Start("quiet"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { quiet.Close() })
	for who, out := range map[string]*syncBuf{"alice": alice, "maya": maya, "alice (quiet)": quietOut} {
		if !waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "test launch") }) {
			t.Fatalf("%s's dashboard never drew: %q", who, out.String())
		}
	}
	// Wait for every dashboard to be subscribed: presence says so.
	if !waitFor(t, 10*time.Second, func() bool { return g.s.Sessions() == 3 }) {
		t.Fatalf("sessions %d", g.s.Sessions())
	}
	time.Sleep(300 * time.Millisecond)
	before := map[*syncBuf]int{alice: bells(alice.String()), maya: bells(maya.String()), quietOut: bells(quietOut.String())}
	if rep := g.r.Engine.Do(context.Background(), incidenttest.Firing("tokens", incident.LevelCrit, "claims failing \x1b]9;spoofed\a")); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	const osc9 = "\x1b]9;warroom: CRIT on tokens: " + incidenttest.Origin + ": claims failing"
	if !waitFor(t, 10*time.Second, func() bool { return strings.Contains(alice.String(), "\a"+osc9) }) {
		t.Fatalf("no BEL and OSC 9 in alice's pty output:\n%q", tail(alice.String()))
	}
	if bells(alice.String()) != before[alice]+1 {
		t.Fatalf("alice's terminal rang %d times", bells(alice.String())-before[alice])
	}
	// The others drew the alert, and did not ring.
	for who, out := range map[string]*syncBuf{"maya": maya, "alice (quiet)": quietOut} {
		if !waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "claims failing") }) {
			t.Fatalf("%s never drew the alert", who)
		}
		if s := out.String(); strings.Contains(s, "\x1b]9;") || bells(s) != before[out] {
			t.Fatalf("%s's terminal rang: %q", who, tail(s))
		}
	}
	// The alert's own text cannot end the notification or start another.
	if strings.Contains(alice.String(), "spoofed\a") || strings.Count(alice.String(), "\x1b]9;") != 1 {
		t.Fatalf("hostile text in the notification: %q", tail(alice.String()))
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}
