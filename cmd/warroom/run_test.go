package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestRunServesTheStatusPage: `warroom run --status ADDR` serves the
// room's public status page beside the dashboard, the page serve --status
// serves (HTML without scripts, the JSON summary, the Atom feed), and
// stops serving it when the dashboard quits.
func TestRunServesTheStatusPage(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "warroom.yaml")
	room := fmt.Sprintf(launchRoom, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	room += "comms:\n  title: Tokens launch\n  components:\n    - {id: claims, name: Claims, services: [tokens]}\n"
	if err := os.WriteFile(cfgPath, []byte(room), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free loopback port for the page.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	cmd := exec.Command(self, "run", "-c", cfgPath, "--as", "rosa", "--journal", filepath.Join(dir, "warroom.db"), "--status", addr)
	cmd.Env = append(os.Environ(), "WARROOM_TEST_MAIN=1", "TERM=xterm-256color")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	var screen syncBuffer // the dashboard's frames, for a failure's message
	go screen.ReadFrom(f)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		f.Close()
	})

	get := func(path string) (*http.Response, string, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	var resp *http.Response
	var page string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, page, err = get("/"); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("run --status %s exited: %q", addr, screen.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("run --status %s never answered: %v\n%q", addr, err, screen.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "Tokens launch status") ||
		!strings.Contains(page, "Claims") || strings.Contains(page, "<script") || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("GET /: %d %v\n%s", resp.StatusCode, resp.Header, page)
	}
	_, js, err := get("/index.json")
	var summary struct {
		Components []struct{ Name, Status string } `json:"components"`
	}
	if err != nil || json.Unmarshal([]byte(js), &summary) != nil || len(summary.Components) != 1 || summary.Components[0].Status != "operational" {
		t.Fatalf("GET /index.json: %v\n%s", err, js)
	}
	_, feed, err := get("/history.atom")
	if err != nil || xml.Unmarshal([]byte(feed), new(struct{})) != nil {
		t.Fatalf("GET /history.atom: %v\n%s", err, feed)
	}
	// The page goes with the dashboard: ctrl+c asks (the room stops with
	// it), y quits.
	quit := time.After(20 * time.Second)
	for done := false; !done; {
		if _, err := f.Write([]byte("\x03")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		f.Write([]byte("y"))
		select {
		case <-exited:
			done = true
		case <-time.After(time.Second):
		case <-quit:
			t.Fatal("the dashboard did not quit on ctrl+c, y")
		}
	}
	if _, _, err := get("/"); err == nil {
		t.Fatal("the status page still answers after run quit")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// ReadFrom copies r (a pty) until it ends, a chunk at a time.
func (s *syncBuffer) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := r.Read(buf)
		s.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDashboardWithoutTerminal: run (and demo) without a terminal say so
// before the room opens (bubbletea failed once the room ran: "could not
// open TTY"), and no journal is created.
func TestDashboardWithoutTerminal(t *testing.T) {
	if f, err := os.Open("/dev/tty"); err == nil {
		f.Close()
		t.Skip("this test has a terminal")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "playbooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "warroom.yaml")
	if err := os.WriteFile(cfgPath, []byte(cliRoom), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "run.db")
	for _, args := range [][]string{{"run", "-c", cfgPath, "--journal", journal, "--as", "rosa"}, {"demo"}} {
		code, out, errs := runCLI(args...)
		if code != exitUsage || !strings.Contains(errs, "needs a terminal") {
			t.Errorf("%v: exit %d, want %d and why:\n%s%s", args, code, exitUsage, out, errs)
		}
	}
	if _, err := os.Stat(journal); err == nil {
		t.Errorf("the room was opened without a terminal")
	}
}
