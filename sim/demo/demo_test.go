package demo

import (
	"bufio"
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
	wall := time.Duration(float64(d.End.Sub(d.Clock.Now())) / speed)
	ctx, cancel := context.WithTimeout(context.Background(), wall)
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

// firstRuleAlerts lists the services in the order their first threshold
// alert fired (imported monitor alerts aside).
func firstRuleAlerts(lines []line) []string {
	seen := map[string]bool{}
	var order []string
	for _, l := range lines {
		if l.kind != "ALERT" || strings.HasPrefix(l.text, "datadog:") || strings.HasPrefix(l.text, "prometheus:") {
			continue
		}
		if !seen[l.service] {
			seen[l.service] = true
			order = append(order, l.service)
		}
	}
	return order
}

func TestHeadlessDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole simulated launch")
	}
	lines := runHeadless(t, 1, 60)
	if lines[0].kind != "DECLARE" || !strings.Contains(lines[0].text, "(simulated)") {
		t.Fatalf("first line %+v", lines[0])
	}
	order := firstRuleAlerts(lines)
	// The story: bots hit the WAF first, then the tokens Lambda and the
	// shared database, NAT ports, the degrading RPC provider, and fees.
	want := []string{"cloudflare", "tokens", "history", "aws", "triton", "blowfish"}
	pos := map[string]int{}
	for i, s := range order {
		pos[s] = i
	}
	for _, s := range want {
		if _, ok := pos[s]; !ok {
			t.Fatalf("alerts fired on %v, want all of %v", order, want)
		}
	}
	if order[0] != "cloudflare" || pos["tokens"] > pos["aws"] || pos["aws"] > pos["triton"] || pos["triton"] > pos["blowfish"] {
		t.Fatalf("alert order %v, want cloudflare first, then tokens before aws before triton before blowfish", order)
	}
	if _, ok := pos["quicknode"]; ok {
		t.Fatalf("the healthy provider alerted: %v", order)
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
}

func TestSameSeedSameAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulated launch twice")
	}
	a := firstRuleAlerts(runHeadless(t, 7, 60))
	b := firstRuleAlerts(runHeadless(t, 7, 60))
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("same seed, different alerts:\n%v\n%v", a, b)
	}
}
