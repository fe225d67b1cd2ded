package playbooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/export"
	"github.com/warroom/warroom/incident"
)

// canaryForms are the encodings a leaked secret could take.
func canaryForms(s string) map[string]string {
	b := []byte(s)
	forms := map[string]string{
		"raw":            s,
		"base64":         base64.StdEncoding.EncodeToString(b),
		"base64 raw":     base64.RawStdEncoding.EncodeToString(b),
		"base64url":      base64.URLEncoding.EncodeToString(b),
		"base64url raw":  base64.RawURLEncoding.EncodeToString(b),
		"query-escaped":  url.QueryEscape(s),
		"path-escaped":   url.PathEscape(s),
		"hex":            hex.EncodeToString(b),
		"basic auth b64": base64.StdEncoding.EncodeToString([]byte("admin:" + s))[8:],
	}
	j, _ := json.Marshal(s)
	forms["json-escaped"] = string(j[1 : len(j)-1])
	// The middle of the secret is enough to count as a leak.
	forms["middle"] = s[3 : len(s)-3]
	return forms
}

func assertNoCanary(t *testing.T, where string, data []byte) {
	t.Helper()
	for name, f := range canaryForms(adminToken) {
		if bytes.Contains(data, []byte(f)) {
			i := bytes.Index(data, []byte(f))
			lo, hi := max(0, i-60), min(len(data), i+len(f)+60)
			t.Errorf("%s holds the secret (%s form): …%q…", where, name, data[lo:hi])
		}
	}
}

// leakyPlaybook does everything that could leak its secret: a server
// that echoes it back in every encoding, a process that prints it (also
// split across two writes and base64-encoded), and a failing request
// whose error carries it.
const leakyPlaybook = `id: leaky
title: Leak the secret (test)
service: tokens
description: every path a secret could leak through
risk: low
lock: {name: leaky, timeout: 15m}
vars: {admin: {env: SIM_ADMIN_URL}}
secrets: {admin_token: "${SIM_ADMIN_TOKEN}"}
steps:
  - id: echo
    http:
      method: GET
      url: "{{vars.admin}}/admin/echo"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
      save: {note: json:$.note}
  - id: print
    read_only: true
    exec:
      argv: [/bin/sh, -c, 'printf "token=%s\n" "$TOKEN"; printf "%s" "$TOKEN" | base64; printf "half=%.9s" "$TOKEN"; sleep 0.05; printf "%s\n" "${TOKEN#?????????}"; printf "admin:%s" "$TOKEN" | base64 -w0; echo; echo "$TOKEN" >&2']
      secret_env: {TOKEN: admin_token}
  - id: tell
    slack: "echo said {{steps.echo.note}}"
  - id: fail
    http:
      method: GET
      url: "{{vars.admin}}/admin/fail"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
rollback:
  - id: none
    note: nothing to undo
`

func TestSecretsNeverLeave(t *testing.T) {
	admin := newFakeAdmin(t)
	admin.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch r.URL.Path {
		case "/admin/echo":
			w.Header().Set("X-Echo", tok)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"note":"fine","raw":%q,"b64":%q,"b64url":%q,"query":%q,"basic":%q,"hex":%q}`,
				tok, base64.StdEncoding.EncodeToString([]byte(tok)), base64.RawURLEncoding.EncodeToString([]byte(tok)),
				url.QueryEscape(tok), base64.StdEncoding.EncodeToString([]byte("admin:"+tok)), hex.EncodeToString([]byte(tok)))
			fmt.Fprintf(w, "\n%s\n", strings.Repeat("padding ", 40))
			return true
		case "/admin/fail":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "token %s is not allowed here (%s)\n", tok, url.QueryEscape(tok))
			return true
		}
		return false
	})
	rg := newRig(t, rigOptions{playbooks: map[string]string{"leaky.yaml": leakyPlaybook}})
	ctx := context.Background()
	h, err := rg.r.Request(ctx, tokensOwn, "leaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	run := rg.waitState(h.ID, incident.RunFailed, 5*time.Second)
	if !strings.Contains(run.Error, "HTTP 403") || !strings.Contains(run.Error, Masked) {
		t.Fatalf("the failure should be recorded, masked: %q", run.Error)
	}
	kept := ""
	for _, ev := range rg.state().Recent {
		if ev.Run != nil && ev.Run.ID == h.ID && ev.Run.Step == "print" {
			kept += ev.Run.Output
		}
	}
	if !strings.Contains(kept, "token=***") || !strings.Contains(kept, "half=***") || !strings.Contains(rg.outputs.all(), "token=***") {
		t.Fatalf("the exec output should be kept, masked:\n%s\n%s", kept, rg.outputs.all())
	}
	// A dry run of the same playbook (read-only steps run again).
	if _, err := rg.r.DryRun(ctx, "leaky", nil); err != nil {
		t.Fatal(err)
	}

	// Timeline, streamed output, logs, Slack.
	var tl bytes.Buffer
	for _, ev := range rg.state().Recent {
		b, _ := json.Marshal(ev)
		tl.Write(b)
	}
	assertNoCanary(t, "the timeline", tl.Bytes())
	assertNoCanary(t, "streamed output", []byte(rg.outputs.all()))
	assertNoCanary(t, "logs", []byte(rg.logs.all()))
	assertNoCanary(t, "Slack", []byte(rg.slack.all()))
	if !strings.Contains(rg.slack.all(), "echo said fine") {
		t.Fatalf("slack: %q", rg.slack.all())
	}

	// The journal file itself, every byte (WAL included), after a
	// checkpoint and before.
	dir := filepath.Dir(rg.path)
	scanFiles := func(when string) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil {
				assertNoCanary(t, when+" "+e.Name(), data)
			}
		}
	}
	scanFiles("journal")
	if err := rg.j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	scanFiles("checkpointed journal")

	// Postmortem exports of the same journal.
	out := t.TempDir()
	for _, f := range []export.Format{export.Markdown, export.HTML, export.JSON, export.CSV} {
		var stdout bytes.Buffer
		if _, err := export.Export(ctx, rg.path, f, filepath.Join(out, "pm."+string(f)), &stdout, export.Options{}); err != nil {
			t.Fatalf("export %s: %v", f, err)
		}
	}
	ents, _ := os.ReadDir(out)
	if len(ents) == 0 {
		t.Fatal("no export written")
	}
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(out, e.Name()))
		assertNoCanary(t, "export "+e.Name(), data)
	}
}

func TestShortSecretsRefused(t *testing.T) {
	var m Masker
	if err := m.Add("hunter2"); err == nil {
		t.Fatal("a 7-character secret was accepted")
	}
	// At load time, when the variable is set.
	t.Setenv("SHORT_TOKEN", "abc123")
	_, err := Parse("short.yaml", []byte(strings.Replace(cheapPlaybook, "${SIM_ADMIN_TOKEN}", "${SHORT_TOKEN}", 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "too short to mask safely") {
		t.Fatalf("load: %v", err)
	}
	// At run time, when it was set only later.
	t.Setenv("SHORT_TOKEN", "")
	newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"cheap.yaml": strings.Replace(cheapPlaybook, "${SIM_ADMIN_TOKEN}", "${SHORT_TOKEN}", 1)}})
	t.Setenv("SHORT_TOKEN", "abc123")
	_, err = rg.r.Request(context.Background(), commander, "cheap", nil)
	if err == nil || !strings.Contains(err.Error(), "too short to mask safely") {
		t.Fatalf("run: %v", err)
	}
	if len(rg.state().Runs) != 0 {
		t.Fatal("a run was recorded for a playbook whose secret cannot be masked")
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
