package playbooks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
)

const exampleConfigPath = "../examples/airdrop/warroom.yaml"

func loadExamples(t *testing.T) (*config.Config, *Catalog) {
	t.Helper()
	cfg, err := config.Load(exampleConfigPath)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	cat, err := LoadForConfig(cfg)
	if err != nil {
		t.Fatalf("example playbooks:\n%v", err)
	}
	return cfg, cat
}

func TestExamplesLoad(t *testing.T) {
	_, cat := loadExamples(t)
	want := []string{"client-retries", "db-terminate-idle-sessions", "lambda-reserved-concurrency", "nat-add-ips", "priority-fee", "rpc-traffic-split", "waf-mode"}
	var got []string
	for _, p := range cat.Playbooks() {
		got = append(got, p.ID)
		if len(p.Steps) == 0 || len(p.Verify) == 0 || len(p.Rollback) == 0 {
			t.Errorf("%s: every example has steps, verify and rollback", p.ID)
		}
		if p.Steps[0].Mutates() || p.Steps[0].HTTP == nil || p.Steps[0].HTTP.Method != "GET" {
			t.Errorf("%s: the first step must capture with GET", p.ID)
		}
		for _, s := range p.Verify {
			if s.Kind != KindWaitMetric {
				t.Errorf("%s: verify step %s is %s, want wait_metric", p.ID, s.ID, s.Kind)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("catalog %v, want %v", got, want)
	}
	db, _ := cat.Get("db-terminate-idle-sessions")
	if !strings.Contains(db.Description, "password") || !strings.Contains(db.Description, "held session") {
		t.Errorf("the DB playbook must say why rotating the password does not free connections")
	}
}

func errorsOf(t *testing.T, err error) []config.Error {
	t.Helper()
	var errs *config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *config.Errors, got %T %v", err, err)
	}
	return errs.List
}

var _ = time.Second
var _ = os.Getenv
var _ = filepath.Join

// badPlaybook has one mistake per line group; every one must be reported,
// in one pass, at its position.
const badPlaybook = `id: Bad Id
title: t
service: nosuch
description: d
risk: extreme
run_role: boss
approval:
  approvers: [commander, janitor]
  expires: 5mins
  extra: 1
lock:
  name: x
  timeout: 1h
tiemout: 5m
vars:
  admin: ${SIM_ADMIN_URL
secrets:
  token: literal-secret-value
params:
  - name: pct
    type: int
    description: p
    min: 10
    max: 5
  - name: mode
    type: enum
    description: m
    values: []
  - name: s
    type: string
    description: s
    pattern: "([a-z"
  - name: pct
    type: bool
    description: dup
steps:
  - id: one
    http:
      method: POST
      url: "{{vars.admin}}/x/{{secrets.token}}"
      retries: 2
      json: {a: "{{params.nope}}"}
      save: {x: "xpath://a"}
      expct: [200]
  - id: two
    exec:
      argv: [./run.sh, "{{params.pct}}"]
      env: {LD_PRELOAD: x}
  - id: three
    wait_metric:
      condition: "tokens/nopane < 1"
      for: 2m
      timeout: 1m
  - id: four
    note: "{{steps.one.y}} {{secrets.token}}"
  - id: one
    note: dup
  - id: five
    http: {method: GET, url: "ftp://x/y"}
    exec: {argv: [x]}
`

func TestMalformedPlaybookAllErrorsInOnePass(t *testing.T) {
	cfg, _ := loadExamples(t)
	_, err := Parse("bad.yaml", []byte(badPlaybook), cfg)
	if err == nil {
		t.Fatal("accepted")
	}
	list := errorsOf(t, err)
	want := []string{
		`bad.yaml:1:5: id: playbook id "Bad Id" is not valid`,
		`bad.yaml:3:10: service: no service "nosuch"`,
		`bad.yaml:5:7: risk: unknown risk "extreme" (one of low, medium, high, critical)`,
		`bad.yaml:6:11: run_role: unknown run_role "boss"`,
		`bad.yaml:8:26: approval.approvers[1]: unknown approver role "janitor"`,
		`bad.yaml:9:12: approval.expires: invalid duration "5mins" (use Go duration syntax`,
		`bad.yaml:10:3: approval.extra: unknown field "extra"`,
		`bad.yaml:14:1: tiemout: unknown field "tiemout"`,
		`bad.yaml:16:10: vars.admin: malformed ${...} reference`,
		`bad.yaml:18:10: secrets.token: secrets must be ${ENV_VAR} references, not literal values`,
		`bad.yaml:23:10: params[0].min: min 10 is greater than max 5`,
		`bad.yaml:28:13: params[1].values: an enum parameter needs values`,
		`bad.yaml:32:14: params[2].pattern: invalid regular expression`,
		`bad.yaml:33:11: params[3].name: duplicate parameter "pct"`,
		`bad.yaml:40:12: steps[0].http.url: secrets cannot go into a URL`,
		`bad.yaml:41:16: steps[0].http.retries: a POST request is not retried`,
		`bad.yaml:42:17: steps[0].http.json.a: no parameter "nope"`,
		`bad.yaml:43:17: steps[0].http.save.x: save source "xpath://a" is neither`,
		`bad.yaml:44:7: steps[0].http.expct: unknown field "expct" (did you mean "expect"?)`,
		`bad.yaml:47:24: steps[1].exec.argv[1]: argv is literal: templates are not allowed here`,
		`bad.yaml:48:13: steps[1].exec.env.LD_PRELOAD: environment variables starting with LD_ are reserved`,
		`bad.yaml:51:18: steps[2].wait_metric.condition: service tokens has no pane "nopane"`,
		`bad.yaml:53:16: steps[2].wait_metric.timeout: timeout 1m0s must be longer than for 2m0s`,
		`bad.yaml:55:11: steps[3].note: steps.one.y: step "one" saves no "y"`,
		`steps[3].note: secrets can only be used in request headers`,
		`bad.yaml:56:9: steps[4].id: duplicate step id "one"`,
		`bad.yaml:58:9: steps[5]: a step has one kind, not http and exec`,
	}
	text := err.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing error %q", w)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s", text)
	}
	// Sorted by position, each in the config's format.
	for i := 1; i < len(list); i++ {
		if list[i].Line < list[i-1].Line {
			t.Fatalf("errors not sorted: %v before %v", list[i-1], list[i])
		}
	}
	// The literal secret is never echoed.
	if strings.Contains(text, "literal-secret-value") {
		t.Fatal("an error message echoes a literal secret")
	}
}

func TestMalformedFiles(t *testing.T) {
	big := "id: x\n" + strings.Repeat("# padding\n", 10<<20/10)
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	cases := []struct {
		name, body, want string
	}{
		{"tabs", "id: x\nlock:\n\tname: y\n", "3:1: tab in the indent"},
		{"duplicate", "id: x\nid: y\n", "2:1: id: duplicate key \"id\""},
		{"not a mapping", "- a\n- b\n", "1:1: a playbook must be a YAML mapping"},
		{"empty", "\n\n", "1:1: file is empty"},
		{"non-UTF-8", "id: x\ntitle: \xff\xfe\n", "2:8: file is not valid UTF-8"},
		{"10 MB", big, "1:1: file is larger than the 1 MiB limit"},
		{"alias bomb", bomb, "anchors and aliases are not supported"},
		{"merge key", "base: {a: 1}\nid: {<<: {b: 2}}\n", "merge keys (<<) are not supported"},
		{"tag", "id: !!binary eA==\n", "YAML tags are not supported"},
		{"unquoted template", "id: x\ntitle: {{params.a}}\n", "quote values that contain templates"},
		{"two documents", "id: x\n---\nid: y\n", "more than one YAML document"},
		{"nested unknown", "id: x\nsteps:\n  - id: a\n    http:\n      method: GET\n      url: http://h/x\n      headers: {A: b}\n      bogus: {deep: 1}\n", "steps[0].http.bogus: unknown field"},
		{"missing", "id: x\n", "title: required field is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse("f.yaml", []byte(c.body), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			errorsOf(t, err)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q in:\n%v", c.want, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

func TestLoadDirReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "id: a\ntitle: t\n")
	write("b.yml", "id: b\nbogus: 1\n")
	write("c.yaml", cheapPlaybook)
	write("d.yaml", strings.Replace(cheapPlaybook, "title: Read", "title: Copy of", 1))
	write("notes.txt", "ignored")
	_, err := LoadDir(dir)
	list := errorsOf(t, err)
	files := map[string]bool{}
	for _, e := range list {
		files[filepath.Base(e.File)] = true
		if !strings.HasPrefix(e.Error(), e.File+":") {
			t.Fatalf("format: %s", e.Error())
		}
	}
	for _, f := range []string{"a.yaml", "b.yml", "d.yaml"} {
		if !files[f] {
			t.Errorf("no error reported for %s:\n%v", f, err)
		}
	}
	if !strings.Contains(err.Error(), `duplicate playbook id "cheap"`) {
		t.Errorf("duplicate ids across files not reported:\n%v", err)
	}
	if _, err := LoadDir(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestHighRiskNeedsApprovalAndSelfApprovalImpossible(t *testing.T) {
	body := strings.Replace(cheapPlaybook, "risk: low", "risk: high", 1)
	_, err := Parse("h.yaml", []byte(body), nil)
	if err == nil || !strings.Contains(err.Error(), "a high-risk playbook needs an approval") {
		t.Fatalf("%v", err)
	}
	body = strings.Replace(body, "lock:", "run_role: commander\napproval: {approvers: [commander]}\nlock:", 1)
	_, err = Parse("h.yaml", []byte(body), nil)
	if err == nil || !strings.Contains(err.Error(), "no one could approve a run") {
		t.Fatalf("%v", err)
	}
}
