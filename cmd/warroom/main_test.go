package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{[]string{"version"}, 0, "warroom "},
		{[]string{"check", "-c", "../../examples/airdrop/warroom.yaml"}, 0, "ok (9 services"},
		{[]string{"check", "-c", "../../config/testdata/bad/everything.yaml"}, 1, "everything.yaml:3:3: incident.nmae: unknown field"},
		{[]string{"check", "-c", "/nonexistent/warroom.yaml"}, 3, "no such file"}, // cannot be read: as run, export, journal verify
		{[]string{"check"}, 2, "config"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"check", "--bogus"}, 2, "unknown flag"},
		{[]string{"version", "extra"}, 2, ""},
	} {
		code, out, errs := runCLI(c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errs)
		}
		if !strings.Contains(strings.ToLower(out+errs), strings.ToLower(c.want)) {
			t.Errorf("%v: output lacks %q:\n%s%s", c.args, c.want, out, errs)
		}
	}
}

func TestEveryContractSubcommandHasHelp(t *testing.T) {
	root := newRoot()
	for _, name := range []string{"demo", "run", "serve", "check", "export", "playbook", "version"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Fatalf("subcommand %s missing: %v", name, err)
		}
		if len(cmd.Short) < 10 {
			t.Errorf("%s has no real help text", name)
		}
	}
}

func TestCheckValidatesPlaybooks(t *testing.T) {
	dir := t.TempDir()
	cfg, err := os.ReadFile("../../examples/airdrop/warroom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "warroom.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "playbooks"), 0o700)
	bad := "id: broken\ntitle: Broken\nservice: tokens\nrisk: low\nrun_role: owner\nsteps:\n  - id: x\n    http: {method: FETCH, url: \"http://127.0.0.1/\"}\n    bogus: 1\n"
	if err := os.WriteFile(filepath.Join(dir, "playbooks", "broken.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("check", "-c", filepath.Join(dir, "warroom.yaml"))
	if code != 1 || !strings.Contains(errs, "broken.yaml:") || !strings.Contains(errs, "bogus") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// TestMissingFileExitsAsRuntimeFailure: a file that is not there is a
// runtime failure (3) for check as for run, export and journal verify;
// 1 is for problems found in a file (the README's exit codes).
func TestMissingFileExitsAsRuntimeFailure(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"check", "-c", filepath.Join(dir, "none.yaml")},
		{"run", "-c", filepath.Join(dir, "none.yaml")},
		{"journal", "verify", "--journal", filepath.Join(dir, "none.db")},
		{"export", "--journal", filepath.Join(dir, "none.db"), "--format", "md"},
	} {
		if code, out, errs := runCLI(args...); code != exitRuntime || !strings.Contains(errs, "none.") {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, exitRuntime, out, errs)
		}
	}
}

// An error that starts with a file name shows it as written: the styled
// error handler must not capitalise it (Warroom.yaml is another file).
func TestErrorKeepsFileNameCase(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "warroom.yaml")
	if err := os.WriteFile(out, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, _, errs := runCLI("init", "-o", "warroom.yaml", "--service", "api")
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errs)
	}
	if !strings.Contains(errs, "warroom.yaml exists") {
		t.Errorf("the file name is not shown as written:\n%s", errs)
	}
}
