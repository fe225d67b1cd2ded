package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/examples/airdrop"
	"github.com/warroom/warroom/sim"
	slacksim "github.com/warroom/warroom/sim/slack"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

// TestCheckEnvListsEveryUnsetVariable: with nothing set, check --env on
// the example lists every ${VAR} of the file and its playbooks, each by
// file:line, and exits 1.
func TestCheckEnvListsEveryUnsetVariable(t *testing.T) {
	for _, v := range []string{"DD_API_KEY", "DD_APP_KEY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SIM_ADMIN_URL", "SIM_ADMIN_TOKEN", "STATUSPAGE_API_KEY"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("SLACK_APP_TOKEN", " ") // set, but empty
	code, out, errs := runCLI("check", "--env", "-c", "../../examples/airdrop/warroom.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		`warroom.yaml:\d+:\d+: sources\[1\]\.api_key: DD_API_KEY is not set`,
		`warroom.yaml:\d+:\d+: sources\[1\]\.app_key: DD_APP_KEY is not set`,
		`warroom.yaml:\d+:\d+: slack\.bot_token: SLACK_BOT_TOKEN is not set`,
		`warroom.yaml:\d+:\d+: slack\.app_token: SLACK_APP_TOKEN is set but empty`,
		`warroom.yaml:\d+:\d+: comms\.statuspage\.api_key: STATUSPAGE_API_KEY is not set`,
		`playbooks/rpc-traffic-split\.yaml:\d+:\d+: vars\.admin\.env: SIM_ADMIN_URL is not set`,
		`playbooks/rpc-traffic-split\.yaml:\d+:\d+: secrets\.admin_token: SIM_ADMIN_TOKEN is not set`,
		`playbooks/waf-mode\.yaml:\d+:\d+: secrets\.admin_token: SIM_ADMIN_TOKEN is not set`,
	} {
		if !regexp.MustCompile(want).MatchString(errs) {
			t.Errorf("missing %s in:\n%s", want, errs)
		}
	}
	// Seven playbooks × two variables, and five in the file.
	if n := strings.Count(errs, " is not set") + strings.Count(errs, " is set but empty"); n != 19 {
		t.Errorf("%d variables reported, want 19:\n%s", n, errs)
	}
	// A comment that mentions ${NAME} is not a reference.
	if strings.Contains(errs, "NAME") {
		t.Errorf("a comment was read as a reference:\n%s", errs)
	}
}

// simRoom starts the simulator and a local Slack and writes the example
// war room pointed at them, with the environment it needs set. edit may
// change the file's text.
func simRoom(t *testing.T, edit func(string) string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	scn := sim.DefaultScenario()
	scn.PreRoll = 40 * time.Minute // the CloudWatch pane reads 15 minutes back
	s, err := sim.Start(ctx, sim.Options{Seed: 1, Start: time.Now().Add(time.Minute), Scenario: &scn, AdminToken: "test-admin-token-0123", LatencyScale: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	bot, app := slacksim.NewTokens()
	sl := slacksim.New(slacksim.Options{BotToken: bot, AppToken: app})
	if err := sl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	// The example's components, as the page holds them.
	sp := spsim.New(spsim.Options{APIKey: "sp-preflight-key-0123456789", Components: []spsim.Component{
		{ID: "cmpclaims001", Name: "Claims"}, {ID: "cmpactivity1", Name: "Activity and history"},
		{ID: "cmpsending01", Name: "Sending and swaps"}, {ID: "cmpethereum1", Name: "Ethereum balances"}}})
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	dir := t.TempDir()
	path, err := airdrop.WriteTo(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(
		"http://127.0.0.1:9090", s.PromURL,
		"http://127.0.0.1:8126", s.DatadogURL,
		"http://127.0.0.1:8899", s.RPC["triton"],
		"http://127.0.0.1:8900", s.RPC["quicknode"],
		"http://127.0.0.1:8545", s.RPC["infura"],
		"http://127.0.0.1:8546", s.RPC["nethermind"],
		"http://127.0.0.1:8127/api/", sl.APIURL(),
		"http://127.0.0.1:8128/v1", sp.APIURL(),
		"C06JUPWAR1", sl.ChannelID(),
	).Replace(string(b))
	if edit != nil {
		text = edit(text)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"DD_API_KEY": "0123456789abcdef0123456789abcdef", "DD_APP_KEY": "0123456789abcdef0123456789abcdef01234567",
		"SLACK_BOT_TOKEN": bot, "SLACK_APP_TOKEN": app,
		"SIM_ADMIN_URL": s.AdminURL, "SIM_ADMIN_TOKEN": "test-admin-token-0123",
		"STATUSPAGE_API_KEY": "sp-preflight-key-0123456789",
	} {
		t.Setenv(k, v)
	}
	return path
}

func TestCheckLivePassesAgainstTheSimulator(t *testing.T) {
	path := simRoom(t, nil)
	code, out, errs := runCLI("check", "--live", "-c", path)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"sources\n  ✓ prom: answered in", "✓ dd: answered in", "rate limit", // Datadog's headroom
		"panes\n", "✓ tokens/p95:", "✓ history/errors_5xx:",
		"slack\n  ✓ auth.test:", "✓ conversations.info", "✓ apps.connections.open",
		"playbooks\n", "✓ rpc-traffic-split: dry run ok (1 read against live endpoints",
		"roster\n",
		"statuspage\n  ✓ page: page wrpage000001 answers in", "with 4 components",
		"✓ claims: Statuspage component cmpclaims001: Claims (operational)",
		"all ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// TestCheckLiveNamesEveryProblemInOnePass: one source down, one pane
// with no series and a bad Slack token, all three named in one run, and
// the exit code says which groups failed (64 + 1 + 2 + 4).
func TestCheckLiveNamesEveryProblemInOnePass(t *testing.T) {
	path := simRoom(t, func(s string) string {
		// The Datadog source points at a port nothing listens on.
		s = regexp.MustCompile(`api_url: http://127\.0\.0\.1:\d+\n`).ReplaceAllString(s, "api_url: http://127.0.0.1:9\n")
		// A pane whose query matches no series, with the default no_data.
		return strings.Replace(s, "      - id: rps\n        title: requests/s\n        source: prom\n        query: sum(rate(http_requests_total{service=\"tokens\"}[1m]))",
			"      - id: rps\n        title: requests/s\n        source: prom\n        query: sum(rate(http_requests_total{service=\"tokenz\"}[1m]))", 1)
	})
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-0000000000-0000000000000-notarealtokenatall")
	code, out, errs := runCLI("check", "--live", "-c", path)
	if code != 64+1+2+4 {
		t.Fatalf("exit %d, want 71 (sources, panes, slack)\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"✗ dd:",                   // the source that is down
		"✗ tokens/rps: no series", // the pane with no series
		"✗ auth.test: invalid_auth",
		"3 problem(s)",
		"sources, panes, slack failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// The dead source's panes are its one problem, not one each.
	if strings.Contains(out, "✗ history/p95") {
		t.Errorf("a dead source's panes are reported with it:\n%s", out)
	}
	if strings.Contains(out, "xoxb-0000000000") {
		t.Error("the token was printed")
	}
}

// TestCheckLiveStatuspage: a wrong Statuspage key fails the group (64 +
// 32) without printing the key; a component id the page does not have is
// named with the ids it has.
func TestCheckLiveStatuspage(t *testing.T) {
	path := simRoom(t, func(s string) string {
		return strings.Replace(s, "statuspage_id: cmpsending01", "statuspage_id: cmpsending99", 1)
	})
	code, out, errs := runCLI("check", "--live", "-c", path)
	if code != 64+32 {
		t.Fatalf("exit %d, want 96 (statuspage)\n%s%s", code, out, errs)
	}
	for _, want := range []string{"✓ page: page wrpage000001", "✗ sending: Statuspage page wrpage000001 has no component cmpsending99",
		"the page has cmpactivity1, cmpclaims001, cmpethereum1, cmpsending01", "statuspage failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	t.Setenv("STATUSPAGE_API_KEY", "sp-wrong-key-9876543210")
	code, out, errs = runCLI("check", "--live", "-c", path)
	if code != 64+32 {
		t.Fatalf("exit %d, want 96 (statuspage)\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "✗ page: Statuspage: Could not authenticate (check comms.statuspage.api_key)") || strings.Contains(out+errs, "sp-wrong-key") {
		t.Errorf("a wrong key:\n%s%s", out, errs)
	}
}
