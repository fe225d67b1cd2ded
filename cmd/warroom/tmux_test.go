package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/journal/journaltest"
)

// TestMain lets the test binary stand in for warroom itself (tmux runs
// it with WARROOM_TEST_MAIN=1), so the real CLI is driven without a
// separate build.
func TestMain(m *testing.M) {
	if os.Getenv("WARROOM_TEST_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	journaltest.StopPostgres()
	os.Exit(code)
}

// cutThreshold finds a threshold cell cut short: "(warn >400 con…" or
// "(cr…" instead of "(crit >90%)".
var cutThreshold = regexp.MustCompile(`\((w|wa|war|warn|c|cr|cri|crit)(\s[^()]*)?…`)

// cutBeforeCount is an alert row cut where the table had no room for it
// in full, keeping its group's count: "… (+1 more)".
var cutBeforeCount = regexp.MustCompile(`… \((\+\d+ more|\d+ alerts)\)`)

// alertRow is a row of the alerts table or an alert line of a pane.
var alertRow = regexp.MustCompile(`(^|[\s•▶│┃])A\d+\s`)

// TestTmuxNoCutThresholdsOrAlertNames runs the demo in tmux at 80×24 and
// 120×40 and reads the screen back with capture-pane: no threshold and no
// alert name on the overview or in the alerts list is cut with "…".
func TestTmuxNoCutThresholdsOrAlertNames(t *testing.T) {
	tmuxBin, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("WARROOM_REQUIRE_REAL") == "1" {
			t.Fatalf("tmux missing: %v", err)
		}
		t.Skipf("tmux missing (%v); set WARROOM_REQUIRE_REAL=1 to fail instead", err)
	}
	if testing.Short() {
		t.Skip("runs the demo for about 20 s")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock := fmt.Sprintf("warroom-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	tmux := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, tmuxBin, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { _, _ = tmux("kill-server") })
	sizes := []struct{ w, h int }{{80, 24}, {120, 40}}
	for i, sz := range sizes {
		cmd := fmt.Sprintf("env WARROOM_TEST_MAIN=1 %s demo --speed 20 --autopilot=false --journal %s", self, filepath.Join(dir, fmt.Sprintf("d%d.db", i)))
		if out, err := tmux("new-session", "-d", "-s", fmt.Sprintf("s%d", i), "-x", fmt.Sprint(sz.w), "-y", fmt.Sprint(sz.h), cmd); err != nil {
			t.Fatalf("tmux new-session: %v: %s", err, out)
		}
	}
	capture := func(i int) string {
		out, _ := tmux("capture-pane", "-p", "-t", fmt.Sprintf("s%d", i))
		return out
	}
	// Wait until the story is well under way: several alerts open.
	open := regexp.MustCompile(`2 Alerts \((\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for i := range sizes {
		for {
			s := capture(i)
			if m := open.FindStringSubmatch(s); m != nil {
				if n, _ := strconv.Atoi(m[1]); n >= 4 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%dx%d: the story never got going:\n%s", sizes[i].w, sizes[i].h, s)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	checked := 0
	for round := 0; round < 3; round++ {
		for i, sz := range sizes {
			// The overview, the alerts list, and a service's detail view,
			// each read once it is drawn and steady (two equal captures).
			for _, view := range []struct{ keys, shows string }{{"1", "enter open service"}, {"2", "LEVEL"}, {"1 Enter", "▸ "}} {
				for _, k := range strings.Fields(view.keys) {
					if _, err := tmux("send-keys", "-t", fmt.Sprintf("s%d", i), k); err != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Millisecond)
				}
				var s string
				for tries, prev := 0, ""; tries < 100; tries++ {
					time.Sleep(100 * time.Millisecond)
					s = capture(i)
					if s == prev && strings.Contains(s, view.shows) {
						break
					}
					prev = s
				}
				inTable, afterTable := false, false
				for n, line := range strings.Split(s, "\n") {
					// The alerts table: its rows and their wrapped lines
					// start with a space or the cursor; the foot does not.
					switch {
					case strings.Contains(line, "LEVEL") && strings.Contains(line, "ALERT"):
						inTable = true
						continue
					case inTable && !(strings.HasPrefix(line, " ") || strings.HasPrefix(line, "▶")):
						inTable, afterTable = false, true
					}
					if afterTable {
						// Below the alerts table: the selected alert's hint
						// ("a acks A59 … · B acks every alert of <service>"),
						// the keys and the sources, each cut to the width
						// like any hint. They name an alert by id, not by
						// name: no alert row is there.
						continue
					}
					// A table too short for every row in full bounds
					// each row's lines: a row may then be cut, but only
					// before its group's count.
					if inTable && strings.Contains(line, "…") && !cutBeforeCount.MatchString(line) {
						t.Errorf("%dx%d view %s line %d: an alert row is cut:\n%s", sz.w, sz.h, view.keys, n+1, s)
					}
					if loc := cutThreshold.FindString(line); loc != "" {
						t.Errorf("%dx%d view %s line %d: a threshold is cut (%q):\n%s", sz.w, sz.h, view.keys, n+1, loc, s)
					}
					if loc := alertRow.FindStringIndex(line); loc != nil && strings.Contains(column(line[loc[0]:]), "…") {
						t.Errorf("%dx%d view %s line %d: an alert name is cut:\n%s", sz.w, sz.h, view.keys, n+1, s)
					}
					if strings.Contains(line, "(warn") || strings.Contains(line, "(crit") {
						checked++
					}
				}
				if t.Failed() {
					return
				}
			}
		}
		time.Sleep(time.Second)
	}
	if checked == 0 {
		t.Fatal("no threshold was on screen: the check checked nothing")
	}
	t.Logf("%d threshold cells checked", checked)
}

// column is the start of line up to the next column rule: the columns
// beside the alerts (playbooks, sources) cut their own text.
func column(line string) string {
	_, n := utf8.DecodeRuneInString(line) // the match may start at a rule
	if i := strings.IndexAny(line[n:], "│┃"); i >= 0 {
		return line[:n+i]
	}
	return line
}
