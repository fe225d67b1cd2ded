package demo

import (
	"bufio"
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// demoSpeed compresses the 11-minute story into about 35 s. Latency and
// timeouts are measured on the scaled clock, so any real overhead is
// multiplied by the speed: a source's 3 s timeout is 150 ms of the
// machine's time here. At 30 (100 ms) a race-instrumented build on a
// loaded machine timed out its RPC polls: the triton lag alert never
// fired, and STALE sources paged the commander.
const demoSpeed = 20

type line struct{ kind, service, text string }

// runHeadless runs the whole scenario headless and returns its lines.
func runHeadless(t *testing.T, seed uint64, speed float64) []line {
	t.Helper()
	dir := t.TempDir()
	d, err := Start(context.Background(), Options{Speed: speed, Seed: seed, Dir: dir, JournalPath: filepath.Join(dir, "j.db"), AutoAck: true, Autopilot: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The story's length on the machine's clock, and a fifth more: a
	// loaded machine runs every step late, and the last mitigation may
	// verify after the story's end.
	wall := time.Duration(float64(d.End.Sub(d.Clock.Now())) / speed)
	ctx, cancel := context.WithTimeout(context.Background(), wall+wall/5)
	defer cancel()
	var buf bytes.Buffer
	if err := d.Room.Follow(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	var out []line
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 5)
		if len(f) < 5 {
			t.Fatalf("malformed line %q", sc.Text())
		}
		out = append(out, line{kind: f[2], service: f[3], text: f[4]})
	}
	return out
}

// story is the pane of each problem in the launch story, by the alert
// text it starts with. Latency panes are left out on purpose: RPC latency
// is measured on the scaled clock, so a slow (race-instrumented) build
// multiplies its own overhead by the speed.
var story = []struct{ service, prefix string }{
	{"cloudflare", "bots reaching origin"},
	{"tokens", "Lambda throttles"},
	{"tokens", "DB connections used"},
	{"aws", "NAT port allocation errors"},
	{"triton", "slots behind best"},
	{"blowfish", "tx landing rate"},
}

// storyAlerts lists the story's problems whose threshold alerts fired.
func storyAlerts(lines []line) []string {
	seen := map[string]bool{}
	var order []string
	for _, l := range lines {
		if l.kind != "ALERT" || !(strings.HasSuffix(l.text, "(warn)") || strings.HasSuffix(l.text, "(crit)")) {
			continue
		}
		for _, st := range story {
			k := st.service + "/" + st.prefix
			if l.service == st.service && strings.HasPrefix(l.text, st.prefix) && !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
	}
	return order
}

func TestHeadlessDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole simulated launch")
	}
	lines := runHeadless(t, 1, demoSpeed)
	if lines[0].kind != "DECLARE" || !strings.Contains(lines[0].text, "(simulated)") {
		t.Fatalf("first line %+v", lines[0])
	}
	// Every problem of the story is seen. The order they fire in on a
	// real clock depends on how the machine keeps up with the polls: it
	// is checked on a fake clock (sources/internal/simcheck).
	order := storyAlerts(lines)
	want := []string{"cloudflare/bots reaching origin", "tokens/Lambda throttles", "tokens/DB connections used",
		"aws/NAT port allocation errors", "triton/slots behind best", "blowfish/tx landing rate"}
	slices.Sort(order)
	slices.Sort(want)
	if !slices.Equal(order, want) {
		t.Fatalf("story alerts fired:\n%v\nwant\n%v", order, want)
	}
	for _, l := range lines {
		if l.kind == "ALERT" && l.service == "quicknode" && strings.HasPrefix(l.text, "slots behind best") && !strings.Contains(l.text, "STALE") {
			t.Fatalf("the healthy provider lagged: %s", l.text)
		}
	}
	// Owners acknowledge their own services' alerts.
	acked := false
	for _, l := range lines {
		if l.kind == "ACK" && l.service == "tokens" && strings.HasPrefix(l.text, "tomas acked") {
			acked = true
		}
	}
	if !acked {
		t.Fatal("no ack by tokens' owner tomas")
	}
	// No false page: the owners ack in time, so nothing escalates; other
	// teams' monitors stay out; the muted and downtimed monitors and
	// Prometheus' info alert are shown, silenced or informational.
	var silenced, info bool
	for _, l := range lines {
		switch {
		case l.kind == "PAGE" || l.kind == "ESCALATE":
			t.Errorf("a page in the demo: %s %s %s", l.kind, l.service, l.text)
		case l.kind == "ALERT" && (strings.Contains(l.text, "Payments") || strings.Contains(l.text, "Synthetics") || strings.Contains(l.text, "batch-7")):
			t.Errorf("another team's monitor: %s", l.text)
		case l.kind == "ALERT" && strings.Contains(l.text, "— silenced: "):
			silenced = true
		case l.kind == "ALERT" && strings.HasSuffix(l.text, "(info)"):
			info = true
		}
	}
	if !silenced || !info {
		t.Errorf("silenced alerts shown: %v; informational alerts shown: %v", silenced, info)
	}
	// Each mitigation succeeds and its problem's alert resolves after it.
	for _, c := range []struct{ playbook, service, resolved string }{
		{"waf-mode", "cloudflare", "bots reaching origin back to"},
		{"db-terminate-idle-sessions", "tokens", "DB connections used back to"},
		{"lambda-reserved-concurrency", "tokens", "Lambda throttles back to"},
		{"priority-fee", "blowfish", "tx landing rate back to"},
	} {
		started, resolved, succeeded := -1, -1, -1
		for i, l := range lines {
			switch {
			case l.kind == "RUN" && strings.Contains(l.text, "started "+c.playbook) && started < 0:
				started = i
			case l.kind == "RESOLVE" && l.service == c.service && strings.HasPrefix(l.text, c.resolved):
				resolved = i
			case l.kind == "RUN" && strings.HasSuffix(l.text, c.playbook+" succeeded"):
				succeeded = i
			}
		}
		if started < 0 || succeeded < 0 || resolved < started {
			t.Errorf("%s: started at line %d, succeeded at %d, %q resolved at %d", c.playbook, started, succeeded, c.resolved, resolved)
		}
	}
	// The simulated comms role tells customers: the first update after the
	// first crit alert, then as mitigations land, in order, each approved
	// by the simulated deputy (the commander is the human), each on the
	// local Statuspage.
	var published, delivered []string
	for _, l := range lines {
		switch {
		case l.kind == "UPDATE" && strings.HasPrefix(l.text, "dev approved sam's update"):
			published = append(published, l.text)
		case l.kind == "UPDATE" && strings.Contains(l.text, "published"):
			t.Errorf("published without the deputy's approval: %s", l.text)
		case l.kind == "DELIVERY" && strings.Contains(l.text, "reached Statuspage"):
			delivered = append(delivered, l.text)
		}
	}
	if len(published) < 2 || !strings.Contains(published[0], "(investigating)") || len(delivered) != len(published) {
		t.Fatalf("public updates:\n%s\ndelivered:\n%s", strings.Join(published, "\n"), strings.Join(delivered, "\n"))
	}
}

// A journal given with --journal is replayed, then continued, and its
// timeline never goes back in time even though the first run was
// accelerated ahead of the wall clock.
func TestContinueJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.db")
	run := func(wall time.Duration) []string {
		d, err := Start(context.Background(), Options{Speed: 20, Seed: 1, Dir: t.TempDir(), JournalPath: path})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wall)
		defer cancel()
		var buf bytes.Buffer
		if err := d.Room.Follow(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(buf.String()), "\n")
	}
	first := run(4 * time.Second)
	second := run(2 * time.Second)
	if len(second) <= len(first) || strings.Join(second[:len(first)], "\n") != strings.Join(first, "\n") {
		t.Fatalf("the second run must replay the first run's %d lines, then continue; got %d lines", len(first), len(second))
	}
	var prev time.Time
	for _, l := range second {
		ts, err := time.Parse(time.RFC3339, strings.Fields(l)[1])
		if err != nil {
			t.Fatal(err)
		}
		if ts.Before(prev) {
			t.Fatalf("time went back at %q (after %v)", l, prev)
		}
		prev = ts
	}
}

// TestSimulatorNeverActsAsTheHuman: the person at the dashboard is the
// commander; the runs they request are approved by the simulated deputy,
// and no event is ever written in their name except those of their own
// request.
func TestSimulatorNeverActsAsTheHuman(t *testing.T) {
	dir := t.TempDir()
	d, err := Start(context.Background(), Options{Speed: demoSpeed, Seed: 1, Dir: dir, JournalPath: filepath.Join(dir, "j.db"), AutoAck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Human() != "rosa" {
		t.Fatalf("the human is %q, want the commander", d.Human())
	}
	h, err := d.Room.Lead().Runner.Request(context.Background(), "rosa", "priority-fee", map[string]string{"micro_lamports": "20000"})
	if err != nil {
		t.Fatal(err)
	}
	var st *incident.State
	deadline := time.Now().Add(20 * time.Second)
	for {
		st = d.snapshot(context.Background())
		if r := st.Runs[h.ID]; r != nil && r.Approver != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nobody approved the commander's request: %+v", st.Runs[h.ID])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := st.Runs[h.ID].Approver; got != "dev" {
		t.Fatalf("approved by %q, want the simulated deputy", got)
	}
	for _, ev := range st.Recent {
		if ev.Actor != "rosa" {
			continue
		}
		// Their run's own steps: its transitions, and the notes and Slack
		// posts its steps write (they name the run).
		mine := ev.Run != nil && ev.Run.ID == h.ID
		note := ev.Kind == incident.KindNote && regexp.MustCompile(`\b`+h.ID+`\b`).MatchString(ev.Text)
		if !mine && !note {
			t.Fatalf("written in the human's name: %s", ev.Line())
		}
	}
}

// The round trip: with nobody acking in the room, owners are paged through
// the local PagerDuty a minute after their alert fires, acknowledge on
// their phones, and the signed webhook acks the alert in the room as them
// ("via PagerDuty"). The human is never acked for.
func TestOwnersAckFromTheirPhones(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a third of the story")
	}
	dir := t.TempDir()
	d, err := Start(context.Background(), Options{Speed: demoSpeed, Seed: 1, Dir: dir, JournalPath: filepath.Join(dir, "j.db"), Human: "tomas"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var st *incident.State
	deadline := time.Now().Add(60 * time.Second)
	for {
		st = d.snapshot(context.Background())
		n := 0
		for _, ev := range st.Recent {
			if ev.Kind == incident.KindAck && strings.HasSuffix(ev.Text, "via PagerDuty") {
				n++
			}
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			for _, ev := range st.Recent {
				t.Log(ev.Line())
			}
			t.Fatal("no acknowledgements from phones")
		}
		time.Sleep(50 * time.Millisecond)
	}
	paged := map[string]bool{}
	for _, ev := range st.Recent {
		switch {
		case ev.Kind == incident.KindPage:
			paged[ev.Page.To] = true
		case ev.Kind == incident.KindAck && strings.HasSuffix(ev.Text, "via PagerDuty"):
			if !paged[ev.Actor] {
				t.Fatalf("%s acked from a phone that was never paged: %s", ev.Actor, ev.Line())
			}
			if ev.Actor == "tomas" {
				t.Fatalf("the simulator acked as the human: %s", ev.Line())
			}
		case ev.Kind == incident.KindPaging:
			t.Fatalf("a paging problem: %s", ev.Line())
		}
	}
	incs := d.PagerDuty.Incidents()
	if len(incs) == 0 {
		t.Fatal("no PagerDuty incidents")
	}
	t.Logf("%d PagerDuty incidents; pages to %v", len(incs), paged)
}
