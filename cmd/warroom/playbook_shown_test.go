package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/warroom/warroom/incident"
)

// TestPlaybookRunShowsItsDryRun: `warroom playbook run` shows the
// requester what the run would change (old → new), as the dashboard's
// confirmation does, before the run's events: whether this process owns
// the journal or another one does.
func TestPlaybookRunShowsItsDryRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, `{"mode":"challenge"}`)
			return
		}
		io.Copy(w, r.Body)
	}))
	t.Cleanup(srv.Close)
	// The CLI playbook without its approval: the run goes at once.
	pb := strings.NewReplacer("approval:\n  approvers: [commander]\n  expires: 10m\n", "", "risk: high", "risk: low").Replace(fmt.Sprintf(cliPlaybook, srv.URL))
	dir, cfgPath := writeCLIRoom(t, pb)
	check := func(name, out string) {
		t.Helper()
		dry := strings.Index(out, "DRY RUN of waf-mode")
		change := strings.Index(out, "change: mode challenge → block")
		run := strings.Index(out, " RUN cloudflare")
		if dry < 0 || change < 0 || run < 0 || !(dry < change && change < run) {
			t.Fatalf("%s: the dry run (old → new) is not shown before the run:\n%s", name, out)
		}
	}
	code, out, errs := runCLI("playbook", "run", "waf-mode", "--param", "mode=block", "--as", "cleo", "-c", cfgPath, "--journal", filepath.Join(dir, "own.db"))
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, out, errs)
	}
	check("this process's room", out)

	journal := filepath.Join(dir, "served.db")
	r := openCLIRoom(t, cfgPath, journal)
	t.Cleanup(func() { r.Close() })
	code, out, errs = runCLI("playbook", "run", "waf-mode", "--param", "mode=block", "--as", "cleo", "-c", cfgPath, "--journal", journal)
	if code != 0 {
		t.Fatalf("run through the serving process: exit %d\n%s%s", code, out, errs)
	}
	check("another process's room", out)
}

// cancelOn cancels once the output contains a text: Ctrl-C at that moment.
type cancelOn struct {
	mu     sync.Mutex
	b      strings.Builder
	text   string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.text) {
		w.cancel()
	}
	return len(p), nil
}

// TestPlaybookRunInterruptedCancelsTheRun: Ctrl-C on `warroom playbook
// run` through another process cancels the run, as its help says (the
// run went on, and the terminal printed a closed socket's error).
func TestPlaybookRunInterruptedCancelsTheRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"mode":"challenge"}`)
	}))
	t.Cleanup(srv.Close)
	dir, cfgPath := writeCLIRoom(t, fmt.Sprintf(cliPlaybook, srv.URL))
	journal := filepath.Join(dir, "served.db")
	r := openCLIRoom(t, cfgPath, journal)
	t.Cleanup(func() { r.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOn{text: "waits for approval", cancel: cancel}
	var errb strings.Builder
	code := run(ctx, []string{"playbook", "run", "waf-mode", "--param", "mode=block", "--as", "cleo", "-c", cfgPath, "--journal", journal}, out, &errb)
	if code != exitRuntime {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitRuntime, out.b.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted: R") || strings.Contains(errb.String(), "closed network connection") {
		t.Errorf("the terminal does not say the run was cancelled:\n%s", errb.String())
	}
	m := regexp.MustCompile(`(R[0-9]+) waits for approval`).FindStringSubmatch(out.b.String())
	if m == nil {
		t.Fatalf("no run waited for approval:\n%s", out.b.String())
	}
	if s := runState(t, r, m[1]); !strings.HasPrefix(s, string(incident.RunCancelled)) {
		t.Errorf("%s is %q after the requester's Ctrl-C, want cancelled", m[1], s)
	}
}
