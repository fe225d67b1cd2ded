package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.golden from the current output")

// generated are bad inputs too large or too odd to keep as files; their
// goldens live next to the others in testdata/bad.
var generated = map[string]func() []byte{
	"oversized": func() []byte {
		var b strings.Builder
		b.WriteString("incident:\n  name: big\n")
		for b.Len() <= MaxFileSize {
			b.WriteString("# padding padding padding padding padding padding padding padding\n")
		}
		return []byte(b.String())
	},
	"deep_flow": func() []byte {
		return []byte("incident: " + strings.Repeat("[", 10_000) + "\n")
	},
	"wide_mapping": func() []byte {
		var b strings.Builder
		b.WriteString("incident:\n")
		for i := range 80_000 {
			fmt.Fprintf(&b, "  k%d: v\n", i)
		}
		return []byte(b.String())
	},
	"many_nulls": func() []byte {
		return []byte("roster:\n" + strings.Repeat("  -\n", 200_000))
	},
	"merge_bomb": func() []byte {
		// Billion laughs through merge keys instead of sequences.
		var b strings.Builder
		b.WriteString("x-0: &m0 {a: 1, b: 2}\n")
		for i := 1; i <= 40; i++ {
			fmt.Fprintf(&b, "x-%d: &m%d {<<: [*m%d, *m%d], k%d: 1}\n", i, i, i-1, i-1, i)
		}
		b.WriteString("incident: {<<: *m40}\n")
		return []byte(b.String())
	},
}

func TestBadFilesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("only %d bad files", len(files))
	}
	type tc struct {
		name string
		load func() (*Config, error)
	}
	var cases []tc
	for _, f := range files {
		cases = append(cases, tc{strings.TrimSuffix(filepath.Base(f), ".yaml"), func() (*Config, error) { return Load(f) }})
	}
	for name, gen := range generated {
		cases = append(cases, tc{name, func() (*Config, error) { return Parse("testdata/bad/"+name+".yaml", gen()) }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := c.load()
			if err == nil {
				t.Fatalf("loaded without error: %+v", cfg)
			}
			if cfg != nil {
				t.Error("a config was returned along with errors")
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *Errors: %v", err, err)
			}
			checkWellFormed(t, errs)
			got := err.Error() + "\n"
			golden := filepath.Join("testdata/bad", c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// checkWellFormed asserts every error has a real position and formats as
// file:line:col: path: message (hint), and that errors are sorted.
func checkWellFormed(t testing.TB, errs *Errors) {
	t.Helper()
	if len(errs.List) == 0 {
		t.Fatal("*Errors with no errors")
	}
	for i, e := range errs.List {
		if e.Line < 1 || e.Col < 1 || e.Msg == "" || e.File == "" {
			t.Errorf("malformed error %#v", e)
		}
		line := e.Error()
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("multi-line error %q", line)
		}
		if !strings.HasPrefix(line, fmt.Sprintf("%s:%d:%d: ", e.File, e.Line, e.Col)) {
			t.Errorf("badly formatted error %q", line)
		}
		if kind := tokenKind(line); kind != "" {
			t.Errorf("error text carries %s: %q", kind, line)
		}
		if i > 0 {
			p := errs.List[i-1]
			if p.Line > e.Line || (p.Line == e.Line && p.Col > e.Col) {
				t.Errorf("errors not sorted: %v before %v", p, e)
			}
		}
	}
	if n := strings.Count(errs.Error(), "\n") + 1; n != len(errs.List) {
		t.Errorf("Error() has %d lines for %d errors", n, len(errs.List))
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{File: "w.yaml", Line: 3, Col: 9, Path: "services[2].panes[0].warn", Msg: "expected a number", Hint: "write 2"}, "w.yaml:3:9: services[2].panes[0].warn: expected a number (write 2)"},
		{Error{File: "w.yaml", Line: 1, Col: 1, Msg: "file is empty"}, "w.yaml:1:1: file is empty"},
		{Error{File: "w.yaml", Line: 2, Col: 3, Path: "incident.name", Msg: "required field is missing"}, "w.yaml:2:3: incident.name: required field is missing"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// One pass: a file with mistakes in many sections reports all of them.
func TestEveryErrorInOnePass(t *testing.T) {
	_, err := Load("testdata/bad/everything.yaml")
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v", err)
	}
	for _, path := range []string{
		"incident.nmae", "incident.name", "incident.timezone", "escalation.backup",
		"sources[0].commitment", "sources[1].api_key", "sources[1].app_key",
		"services[0].owner", "services[0].panes[0].crit", "services[0].panes[0].for",
		"services[0].panes[1].query", "services[0].panes[2].id", "services[0].panes[2].source",
		"services[0].panes[2].query", "services[1].id", "services[1].panes[0].direction",
		"roster[1].slack", "roster[1].ssh_keys[0]", "roles.commander", "slack.channel", "slack.bot_token",
	} {
		found := false
		for _, e := range errs.List {
			found = found || e.Path == path
		}
		if !found {
			t.Errorf("no error for %s in\n%v", path, err)
		}
	}
}

func TestBillionLaughsRefusedQuickly(t *testing.T) {
	data, err := os.ReadFile("testdata/bad/billion_laughs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Parse("laughs.yaml", data)
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("got %v", err)
	}
	// Generous: the refusal is counted on the AST and takes microseconds.
	if elapsed > time.Second {
		t.Errorf("took %v", elapsed)
	}
}

// A moderate amount of aliasing, as templates use, is fine.
func TestAliasesWithinLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("incident: {name: ok}\nsources: [{id: p, type: prometheus, url: 'http://127.0.0.1:9090'}]\n")
	b.WriteString("x-pane: &pane {source: p, query: up, warn: 1}\nroster: [{handle: a}]\nroles: {commander: a}\nservices:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  - id: s%d\n    panes: [{<<: *pane, id: a}, {<<: *pane, id: b}]\n", i)
	}
	c, err := Parse("many.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Services[199].Panes[1]; got.Query != "up" || *got.Warn != 1 || got.ID != "b" {
		t.Errorf("merged pane %+v", got)
	}
}

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) < 3 {
		t.Fatalf("only %d good files", len(files))
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("testdata/good/defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "testdata/good/defaults.yaml" {
		t.Errorf("Path %q", c.Path)
	}
	if c.Incident.Timezone != "UTC" || c.Incident.Location() != time.UTC {
		t.Errorf("timezone %q", c.Incident.Timezone)
	}
	// backup was set to 15m; commander stays after it.
	if c.Escalation.Backup.D() != 15*time.Minute || c.Escalation.Commander.D() != 20*time.Minute {
		t.Errorf("escalation %+v", c.Escalation)
	}
	dd := c.Source("dd")
	if dd.Site != "datadoghq.com" || dd.APIURL != "" || dd.Interval.D() != 15*time.Second || dd.Timeout.D() != 10*time.Second {
		t.Errorf("dd %+v", dd)
	}
	if dd.APIKey.Env != "DD_API_KEY" || dd.AppKey.Env != "DD_APP_KEY" {
		t.Errorf("dd keys %+v %+v", dd.APIKey, dd.AppKey)
	}
	sol := c.Source("sol")
	if sol.Commitment != "confirmed" || sol.URL != "https://solana.example.com/${RPC_TOKEN}/" {
		t.Errorf("sol %+v", sol)
	}
	eth := c.Source("eth")
	if eth.Commitment != "" || eth.Interval.D() != time.Minute || eth.Timeout.D() != 20*time.Second {
		t.Errorf("eth %+v", eth)
	}
	api := c.Service("api")
	if api.Name != "api" || api.Panes[0].Title != "p95" || api.Panes[0].Direction != Above || api.Panes[0].For != 0 {
		t.Errorf("api %+v", api)
	}
	if api.Panes[0].Crit != nil || *api.Panes[0].Warn != 1 {
		t.Errorf("thresholds %+v", api.Panes[0])
	}
	if c.Slack.APIURL != "https://slack.com/api/" || c.Slack.BotToken.Env != "SLACK_BOT_TOKEN" || c.Slack.AppToken.IsSet() {
		t.Errorf("slack %+v", c.Slack)
	}
	if p := c.Person("alice"); p.Name != "alice" || p.Slack != "U024BE7LH" {
		t.Errorf("alice %+v", p)
	}
}

func TestMinimal(t *testing.T) {
	c, err := Load("testdata/good/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Slack != nil || len(c.Sources) != 0 || c.Roles.Commander != "alice" || c.Escalation.Commander.D() != 10*time.Minute {
		t.Errorf("%+v", c)
	}
}

func TestYAMLFeatures(t *testing.T) {
	c, err := Load("testdata/good/yaml_features.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Incident.Name != "2024" || !c.Incident.Simulated || c.Incident.Launch == nil ||
		!c.Incident.Launch.Equal(time.Date(2024, 1, 31, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("incident %+v", c.Incident)
	}
	if c.Incident.Location().String() != "Europe/Paris" {
		t.Errorf("location %v", c.Incident.Location())
	}
	p95, p99, ok := c.Services[0].Panes[0], c.Services[0].Panes[1], c.Services[0].Panes[2]
	if p95.Source != "prom" || p95.Unit != "s" || *p95.Crit != 2.5 || *p95.Clear != 0.8 || p95.For.D() != 30*time.Second {
		t.Errorf("p95 %+v", p95)
	}
	if p95.Query != "histogram_quantile(0.95, sum by (le) (rate(api_latency_bucket[1m])))" {
		t.Errorf("folded query %q", p95.Query)
	}
	if *p99.Warn != 2 || *p99.Crit != 5 || !strings.HasSuffix(p99.Query, "\n") {
		t.Errorf("p99 %+v", p99)
	}
	if ok.Direction != Below {
		t.Errorf("success %+v", ok)
	}
	if c.Roles.Scribe != "007" || c.Roster[0].SSHKeys == nil {
		t.Errorf("roles %+v roster %+v", c.Roles, c.Roster)
	}
}

func TestExample(t *testing.T) {
	c, err := Load("../examples/airdrop/warroom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Incident.Name != "JUP airdrop war room" || c.Incident.Location().String() != "America/Los_Angeles" {
		t.Errorf("incident %+v", c.Incident)
	}
	want := map[string]string{
		"tokens": "Tokens", "history": "History", "banners": "Banners", "aws": "AWS DevOps",
		"cloudflare": "Cloudflare Security", "triton": "Triton", "quicknode": "QuickNode", "blowfish": "Blowfish",
		"ethereum": "Ethereum RPC",
	}
	if len(c.Services) != len(want) {
		t.Errorf("%d services", len(c.Services))
	}
	for id, name := range want {
		s := c.Service(id)
		if s == nil || s.Name != name || s.Owner == "" || len(s.Panes) < 1 || len(s.Panes) > 4 {
			t.Errorf("service %s: %+v", id, s)
			continue
		}
		if c.Person(s.Owner) == nil {
			t.Errorf("owner of %s not on roster", id)
		}
	}
	for id, typ := range map[string]SourceType{"prom": SourcePrometheus, "dd": SourceDatadog, "triton": SourceRPC, "quicknode": SourceRPC,
		"infura": SourceRPC, "nethermind": SourceRPC} {
		if s := c.Source(id); s == nil || s.Type != typ {
			t.Errorf("source %s: %+v", id, s)
		}
	}
	if dd := c.Source("dd"); dd.APIURL != "http://127.0.0.1:8126" || dd.Site != "" || dd.APIKey.Env != "DD_API_KEY" {
		t.Errorf("dd %+v", dd)
	}
	if c.Roles.Commander == "" || c.Roles.Deputy == "" || c.Roles.Scribe == "" || c.Roles.Comms == "" {
		t.Errorf("roles %+v", c.Roles)
	}
	if c.Slack == nil || c.Slack.BotToken.Env != "SLACK_BOT_TOKEN" || c.Slack.AppToken.Env != "SLACK_APP_TOKEN" {
		t.Errorf("slack %+v", c.Slack)
	}
	if got := c.PlaybooksDir(); got != filepath.Join("../examples/airdrop", "playbooks") {
		t.Errorf("playbooks dir %q", got)
	}
}

func TestParseNeverKeepsSecretValues(t *testing.T) {
	t.Setenv("DD_API_KEY", "0123456789abcdef0123456789abcdef")
	c, err := Load("testdata/good/defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v %v", *c, c.Sources); strings.Contains(s, "0123456789abcdef") {
		t.Error("secret value in config")
	}
	if got := c.Source("dd").APIKey.Value(); got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("Value() = %q", got)
	}
	if got := Redact("GET https://x/?key=0123456789abcdef0123456789abcdef failed"); got != "GET https://x/?key=${DD_API_KEY} failed" {
		t.Errorf("Redact = %q", got)
	}
}

func TestExpandEnv(t *testing.T) {
	t.Setenv("WR_RPC_TOKEN", "tok/en+0123456789")
	t.Setenv("WR_EMPTY", "")
	got, err := ExpandEnv("https://rpc.example.com/${WR_RPC_TOKEN}/?a=$b")
	if err != nil || got != "https://rpc.example.com/tok/en+0123456789/?a=$b" {
		t.Fatalf("got %q, %v", got, err)
	}
	if r := Redact("dial " + got + ": timeout"); r != "dial https://rpc.example.com/${WR_RPC_TOKEN}/?a=$b: timeout" {
		t.Errorf("Redact = %q", r)
	}
	// url.Error quotes the escaped form.
	if r := Redact("x?t=tok%2Fen%2B0123456789"); r != "x?t=${WR_RPC_TOKEN}" {
		t.Errorf("Redact escaped = %q", r)
	}
	for _, s := range []string{"${WR_UNSET_VARIABLE}", "${WR_EMPTY}", "${unterminated", "a${}b"} {
		if _, err := ExpandEnv(s); err == nil {
			t.Errorf("ExpandEnv(%q) succeeded", s)
		}
	}
	if _, err := ExpandEnv("${WR_UNSET_VARIABLE}"); err == nil || !strings.Contains(err.Error(), "WR_UNSET_VARIABLE is not set") {
		t.Errorf("error %v should name the variable", err)
	}
	// Short values are not redacted all over unrelated text.
	t.Setenv("WR_PORT", "8080")
	if _, err := ExpandEnv("http://127.0.0.1:${WR_PORT}"); err != nil {
		t.Fatal(err)
	}
	if r := Redact("port 8080"); r != "port 8080" {
		t.Errorf("Redact = %q", r)
	}
}

func TestTextMarshalling(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.D() != 90*time.Minute {
		t.Errorf("%v %v", d, err)
	}
	if err := d.UnmarshalText([]byte("5mins")); err == nil || !strings.Contains(err.Error(), durationHint) {
		t.Errorf("5mins: %v", err)
	}
	if b, _ := Duration(90 * time.Second).MarshalText(); string(b) != "1m30s" {
		t.Errorf("%s", b)
	}
	var s Secret
	if err := s.UnmarshalText([]byte("${SLACK_BOT_TOKEN}")); err != nil || s.Env != "SLACK_BOT_TOKEN" {
		t.Errorf("%+v %v", s, err)
	}
	if err := s.UnmarshalText([]byte("xoxb-123")); err == nil || strings.Contains(err.Error(), "xoxb") {
		t.Errorf("literal: %v", err)
	}
	if b, _ := s.MarshalText(); string(b) != "${SLACK_BOT_TOKEN}" {
		t.Errorf("%s", b)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	var errs *Errors
	if err == nil || errors.As(err, &errs) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %T %v", err, err)
	}
}

// A file of exactly MaxFileSize bytes is read whole, not refused.
func TestSizeLimitBoundary(t *testing.T) {
	head := "incident:\n  name: edge\nservices: [{id: a}]\nroster: [{handle: a}]\nroles: {commander: a}\n"
	pad := MaxFileSize - len(head)
	data := head + "#" + strings.Repeat("x", pad-2) + "\n"
	if len(data) != MaxFileSize {
		t.Fatal(len(data))
	}
	if _, err := Parse("edge.yaml", []byte(data)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(data+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("got %v", err)
	}
}

func TestTokenKind(t *testing.T) {
	cases := map[string]string{
		"xoxb-1234567890-abcdefghij":                 "a Slack token",
		"xapp-1-A012345-678-abcdef":                  "a Slack app token",
		"Bearer abcdefgh12345":                       "a bearer token",
		"key=0123456789abcdef0123456789abcdef":       "a Datadog API key",
		"0123456789abcdef0123456789abcdef01234567":   "a Datadog application key",
		"0123456789abcdef0123456789abcdef0":          "", // 33 hex: not a key length
		"sum(rate(http_requests_total[1m]))":         "",
		"${DD_API_KEY}":                              "",
		"Bearer ${TOKEN}":                            "",
		"https://rpc.example.com/${RPC_TOKEN}/":      "",
		"550e8400-e29b-41d4-a716-446655440000":       "",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPvMss": "",
	}
	for s, want := range cases {
		if got := tokenKind(s); got != want {
			t.Errorf("tokenKind(%q) = %q, want %q", s, got, want)
		}
	}
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile("../examples/airdrop/warroom.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse("warroom.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// The refusals of hostile inputs, measured: each should be far below a
// second (go test -bench Hostile ./config).
func BenchmarkHostile(b *testing.B) {
	laughs, _ := os.ReadFile("testdata/bad/billion_laughs.yaml")
	inputs := map[string][]byte{"billion_laughs": laughs}
	for name, gen := range generated {
		inputs[name] = gen()
	}
	for name, data := range inputs {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(name, data); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// Files saved on Windows (CRLF, byte order mark) read the same, with the
// same positions.
func TestCRLFAndBOM(t *testing.T) {
	data, err := os.ReadFile("../examples/airdrop/warroom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crlf := strings.ReplaceAll(string(data), "\n", "\r\n")
	if _, err := Parse("crlf.yaml", append([]byte("\ufeff"), crlf...)); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "warn: 2000", "warn: lots", 1)
	_, lfErr := Parse("w.yaml", []byte(bad))
	_, crlfErr := Parse("w.yaml", []byte(strings.ReplaceAll(bad, "\n", "\r\n")))
	if lfErr == nil || crlfErr == nil || lfErr.Error() != crlfErr.Error() {
		t.Errorf("LF: %v\nCRLF: %v", lfErr, crlfErr)
	}
}

// TestJournalField: a postgres:// URL's password comes from the
// environment (never literal), a path is relative to the file.
func TestJournalField(t *testing.T) {
	for _, tc := range []struct{ journal, err string }{
		{"rooms/launch.db", ""},
		{"postgres://warroom:${WR_TEST_DB_PW}@db.internal:5432/warroom?room=airdrop&sslmode=require", ""},
		{"postgres://warroom@db.internal/warroom", ""},
		{"postgres://warroom:hunter2hunter2@db.internal/warroom", "secrets must be ${ENV_VAR} references"},
		{"postgres://warroom@db.internal/warroom?password=hunter2", "give the password in the user part"},
		{"postgres://${USER}@db.internal/warroom", "only the password"},
		{"mysql://db/warroom", "unknown journal URL scheme"},
		{"postgres://warroom:${BAD@db/x", "malformed"},
	} {
		src := "incident: {name: x}\nservices: [{id: api, name: API, owner: ana}]\nroster: [{handle: ana, name: Ana}]\nroles: {commander: ana}\njournal: \"" + tc.journal + "\"\n"
		path := filepath.Join(t.TempDir(), "warroom.yaml")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if tc.err == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.journal, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "journal") {
			t.Fatalf("%s: %v, want %q", tc.journal, err, tc.err)
		}
		_ = c
	}
	c := &Config{Path: "/etc/warroom/warroom.yaml", Journal: "rooms/launch.db"}
	if loc, err := c.JournalLocation(); err != nil || loc != "/etc/warroom/rooms/launch.db" {
		t.Fatalf("relative path: %q %v", loc, err)
	}
	t.Setenv("WR_TEST_DB_PW", "p@ss/word:long!")
	c.Journal = "postgres://warroom:${WR_TEST_DB_PW}@db.internal:5432/warroom?room=airdrop"
	loc, err := c.JournalLocation()
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); pw != "p@ss/word:long!" || u.Host != "db.internal:5432" || u.Query().Get("room") != "airdrop" {
		t.Fatalf("expanded %q", loc)
	}
	if r := Redact("failed: " + loc); strings.Contains(r, "p@ss") || strings.Contains(r, "p%40ss") {
		t.Fatalf("redacted %q", r)
	}
	t.Setenv("WR_TEST_DB_PW", "")
	if _, err := c.JournalLocation(); err == nil || !strings.Contains(err.Error(), "WR_TEST_DB_PW") {
		t.Fatalf("unset password: %v", err)
	}
}
