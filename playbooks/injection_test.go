package playbooks

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// echoPlaybook takes a free-text parameter (only control characters are
// refused) and hands it to a shell (as an environment variable) and to a
// URL path, a query and a JSON body.
const echoPlaybook = `id: echo
title: Echo a value (injection test)
service: tokens
description: free text reaches a process and a request
risk: low
lock: {name: echo, timeout: 15m}
vars: {admin: {env: SIM_ADMIN_URL}, out: {env: ECHO_OUT}}
params:
  - {name: value, type: string, description: anything printable, pattern: ".+", max_len: 256}
steps:
  - id: shell
    read_only: true
    exec:
      argv: [/bin/sh, -c, 'printf "%s" "$WARROOM_PARAM_VALUE" > "$OUT"']
      env: {OUT: "{{vars.out}}"}
  - id: request
    http:
      method: GET
      url: "{{vars.admin}}/admin/echo/{{params.value}}/end?v={{params.value}}"
`

func TestHostileParametersNeverReachAShell(t *testing.T) {
	admin := newFakeAdmin(t)
	admin.setHook(func(w httpResponseWriter, r *httpRequest, _ []byte) bool {
		w.WriteHeader(200)
		return true
	})
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	out := filepath.Join(dir, "out")
	t.Setenv("ECHO_OUT", out)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"echo.yaml": echoPlaybook, "typed.yaml": typedPlaybook}})
	ctx := context.Background()

	values := []string{
		"; touch " + canary,
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"' ; touch " + canary + " ; '",
		"\" ; touch " + canary + " ; \"",
		"a && touch " + canary,
		"| touch " + canary,
		"${IFS}touch${IFS}" + canary,
		"../../../../" + canary,
		"%2F..%2F..%2Fadmin",
		"<!channel> \"}{",
	}
	for _, v := range values {
		h, err := rg.r.Request(ctx, tokensOwn, "echo", map[string]string{"value": v})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		<-h.Done()
		if st := rg.run(h.ID).State; st != incident.RunSucceeded {
			t.Fatalf("%q: %s\n%s", v, st, rg.history(h.ID))
		}
		got, err := os.ReadFile(out)
		if err != nil || string(got) != v {
			t.Fatalf("the process received %q, want the value verbatim %q", got, v)
		}
		reqs := admin.requests()
		last := reqs[len(reqs)-1]
		segs := strings.Split(strings.TrimPrefix(last.RawPath, "/"), "/")
		if len(segs) != 4 || segs[0] != "admin" || segs[1] != "echo" || segs[3] != "end" {
			t.Fatalf("%q: path %q left its segment", v, last.RawPath)
		}
		if dec, _ := url.PathUnescape(segs[2]); dec != v {
			t.Fatalf("%q: segment decodes to %q", v, dec)
		}
		if q, _ := url.ParseQuery(last.Query); q.Get("v") != v {
			t.Fatalf("%q: query %q", v, last.Query)
		}
	}
	// Values with control characters, or starting with '-', or too long,
	// never get as far as a request: no event is recorded at all.
	before := rg.state().LastSeq
	for _, v := range []string{"x\ntouch " + canary, "x\r\nInjected: yes", "a\x00b", "-rf", strings.Repeat("a", 300), "\u202eevil"} {
		_, err := rg.r.Request(ctx, tokensOwn, "echo", map[string]string{"value": v})
		var pe *ParamError
		if !errors.As(err, &pe) {
			t.Fatalf("%q: want a parameter error, got %v", v, err)
		}
	}
	for _, h := range hostile {
		_, err := rg.r.Request(ctx, tokensOwn, "typed", map[string]string{"pct": h, "mode": h, "fn": h})
		var pe *ParamError
		if !errors.As(err, &pe) {
			t.Fatalf("%q: want a parameter error, got %v", h, err)
		}
	}
	if rg.state().LastSeq != before {
		t.Fatal("a refused parameter produced an event")
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("the canary file was created: a parameter reached a shell")
	}
}
