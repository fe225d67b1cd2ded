package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warroom/warroom/textsafe/hostile"
)

const runRoom = `incident:
  name: exec paths
services:
  - id: api
    owner: alice
roster:
  - handle: alice
  - handle: maya
roles:
  commander: maya
playbooks: playbooks
`

const helloPlaybook = `id: hello
title: Say hello from a script beside the playbook
service: api
description: runs scripts/hello.sh, a path relative to this file
risk: low
lock: {name: hello, timeout: 5m}
steps:
  - id: hello
    read_only: true
    exec:
      argv: [scripts/hello.sh, greeting]
`

// The script prints where it runs and a line of hostile bytes: a step's
// output reaches the terminal only through the sanitiser.
const helloScript = "#!/bin/sh\n" +
	"printf 'hello %s from %s\\n' \"$1\" \"$PWD\"\n" +
	"printf 'output \\033[8mconcealed\\033[0m \\033]52;c;AAAA\\007 \\342\\200\\256rlo \\033P+q\\033\\\\ end\\n'\n"

// TestExecScriptPathWithRelativeAndAbsoluteConfig: an exec step's
// relative program path resolves against the playbook's own directory,
// once, whether -c is relative (as the README runs it) or absolute, and
// whatever the current directory is.
func TestExecScriptPathWithRelativeAndAbsoluteConfig(t *testing.T) {
	root := t.TempDir()
	room := filepath.Join(root, "room")
	if err := os.MkdirAll(filepath.Join(room, "playbooks", "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"warroom.yaml":               runRoom,
		"playbooks/hello.yaml":       helloPlaybook,
		"playbooks/scripts/hello.sh": helloScript,
	} {
		if err := os.WriteFile(filepath.Join(room, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere := t.TempDir()
	for _, c := range []struct {
		name, cwd, cfg, journal string
	}{
		{"relative -c", root, "room/warroom.yaml", "rel.db"},
		{"absolute -c", elsewhere, filepath.Join(room, "warroom.yaml"), filepath.Join(elsewhere, "abs.db")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(c.cwd)
			code, out, errs := runCLI("playbook", "run", "hello", "-c", c.cfg, "--as", "alice", "--journal", c.journal)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			if !strings.Contains(out, "hello greeting from "+filepath.Join(room, "playbooks")) {
				t.Fatalf("the script did not run in the playbook's directory:\n%s", out)
			}
			if !strings.Contains(out, "output ␛[8mconcealed") {
				t.Fatalf("the output line is missing:\n%s", out)
			}
			if bad := hostile.Find([]byte(out + errs)); bad != "" {
				t.Fatalf("playbook run printed %s", bad)
			}
		})
	}
}
