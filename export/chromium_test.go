package export

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// findChromium returns the browser to render with, or skips (fails when
// WARROOM_REQUIRE_REAL=1, as in CI).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("WARROOM_REQUIRE_REAL") == "1" {
		t.Fatal("chromium is not installed and WARROOM_REQUIRE_REAL=1 (apt-get install chromium)")
	}
	t.Skip("chromium not installed: the HTML export is not rendered in a real browser (apt-get install chromium)")
	return ""
}

// TestHTMLInChromium renders the HTML export in headless Chromium: the
// DOM has the expected headings and charts, the hostile note is text, and
// the browser logs no console message, CSP violation or script error.
func TestHTMLInChromium(t *testing.T) {
	bin := findChromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "postmortem.html")
	if _, err := Export(context.Background(), fixtureJournal(t), HTML, page, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) (stdout, stderr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0"}, extra...)
		args = append(args, "file://"+page)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.WaitDelay = 5 * time.Second
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("chromium timed out: %s", tail(errb.String()))
		}
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, tail(errb.String()))
		}
		return out.String(), errb.String()
	}
	dom, logs := run("--dump-dom")
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") ||
			strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Refused to") {
			t.Errorf("browser log: %s", line)
		}
	}
	for _, h := range []string{
		`<h1 id="postmortem">Postmortem: JUP airdrop launch</h1>`,
		`<h2 id="summary">Summary</h2>`, `<h2 id="impact">Impact</h2>`, `<h2 id="roles">Roles and handoffs</h2>`,
		`<h2 id="timeline">Timeline</h2>`, `<h2 id="alerts">Alerts</h2>`, `<h2 id="mitigations">Mitigations</h2>`,
		`<h2 id="lessons">Lessons</h2>`, `<h2 id="actions">Action items</h2>`,
	} {
		if !strings.Contains(dom, h) {
			t.Errorf("rendered DOM lacks %s", h)
		}
	}
	if n := strings.Count(dom, "<svg "); n != 4 {
		t.Errorf("rendered DOM has %d charts, want 4", n)
	}
	if regexp.MustCompile(`(?i)<script`).MatchString(dom) {
		t.Error("the rendered DOM has a script element: user text was not escaped")
	}
	if !strings.Contains(dom, "&lt;script&gt;alert(") {
		t.Error("the hostile note is not in the DOM as text")
	}
	// Five in the timeline, and the same five in the key events.
	if n := strings.Count(dom, `<tr class="imp">`); n != 10 {
		t.Errorf("%d important rows highlighted, want 10", n)
	}
	// A screenshot proves the page lays out and paints.
	shot := filepath.Join(dir, "page.png")
	run("--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars")
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot: %v (%d bytes)", err, sizeOf(st))
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return 0
	}
	return st.Size()
}

func tail(s string) string {
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return fmt.Sprint(s)
}
