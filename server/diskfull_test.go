package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
	"github.com/warroom/warroom/room"
)

// fakePrometheus answers every instant query with a value and every range
// query with no series, in the shapes of the HTTP API
// (https://prometheus.io/docs/prometheus/latest/querying/api/).
func fakePrometheus(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/query":
			// A new value each time: the recorder writes only changes.
			now := time.Now()
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d.%03d,"%d"]}]}}`, now.Unix(), now.Nanosecond()/1e6, now.UnixNano()%1000)
		case "/api/v1/query_range":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for n := len(buf) / 2; n > 0; n /= 2 { // the last bytes too
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

// TestFullDiskKeepsTheRoomUp: serve on a 4 MiB tmpfs with 20 panes and
// the commander on an SSH dashboard. When another process fills the
// disk, /healthz turns degraded and the dashboard shows a banner within
// 5 s; a note typed then commits (the reserve) or is refused with a
// reason on screen; no session is dropped; when the space returns the
// room recovers without a restart; and the journal passes its integrity
// check.
func TestFullDiskKeepsTheRoomUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a 4 MiB tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Getenv("WARROOM_REQUIRE_REAL") != "" {
			t.Fatalf("mount a tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	prom := fakePrometheus(t)
	keys := map[string]key{"maya": newKey(t)}
	cfg := &config.Config{
		Incident: config.Incident{Name: "full disk"},
		Sources: []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: prom.URL,
			Interval: config.Duration(200 * time.Millisecond), Timeout: config.Duration(time.Second)}},
		Roster: []config.Person{{Handle: "maya", SSHKeys: []string{keys["maya"].line}}, {Handle: "alice"}},
		Roles:  config.Roles{Commander: "maya"},
	}
	for s := range 4 {
		svc := config.Service{ID: fmt.Sprintf("svc%d", s), Owner: "alice"}
		for p := range 5 {
			svc.Panes = append(svc.Panes, config.Pane{ID: fmt.Sprintf("p%d", p), Source: "prom", Query: fmt.Sprintf("metric_%d_%d", s, p), Crit: f(100)})
		}
		cfg.Services = append(cfg.Services, svc)
	}
	jpath := filepath.Join(mnt, "warroom.db")
	r, err := room.Open(context.Background(), room.Options{Config: cfg, JournalPath: jpath, RecordEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(r, Options{SSHAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", HostKeyPath: filepath.Join(t.TempDir(), "host_key"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.Close()
		r.Close()
	}()
	healthz := func() (int, string) {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	client, err := gossh.Dial("tcp", s.SSHAddr(), &gossh.ClientConfig{User: "maya", Auth: []gossh.AuthMethod{gossh.PublicKeys(keys["maya"].signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- sess.Wait() }()
	recorded := func() int64 { return r.Lead().Sources.Stats().Recorded }
	if !waitFor(t, 10*time.Second, func() bool { return recorded() > 40 && s.Sessions() == 1 }) {
		t.Fatalf("samples are not recorded (%d) or no session", recorded())
	}
	if code, body := healthz(); code != 200 {
		t.Fatalf("healthz before: %d %s", code, body)
	}

	// Another process fills the disk.
	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	full := time.Now()
	if !waitFor(t, 5*time.Second, func() bool { code, _ := healthz(); return code == http.StatusServiceUnavailable }) {
		t.Fatal("/healthz not degraded within 5 s")
	}
	_, body := healthz()
	t.Logf("/healthz degraded after %s: %s", time.Since(full).Round(10*time.Millisecond), strings.TrimSpace(body))
	if !waitFor(t, 5*time.Second, func() bool { return strings.Contains(out.String(), "DISK") }) {
		t.Fatal("no banner on the dashboard within 5 s")
	}
	t.Logf("banner on the dashboard after %s", time.Since(full).Round(10*time.Millisecond))

	if !waitFor(t, 5*time.Second, func() bool { return r.Journal.Health().SamplesDropped > 0 }) {
		t.Fatal("samples are not shed")
	}

	// The commander types a note.
	note := "note typed on a full disk"
	fmt.Fprint(in, "n")
	time.Sleep(200 * time.Millisecond)
	fmt.Fprint(in, note+"\r")
	committed := func(text string) bool {
		st, err := incident.Snapshot(context.Background(), r.Engine)
		if err != nil {
			return false
		}
		for _, ev := range st.Recent {
			if ev.Kind == incident.KindNote && ev.Text == text {
				return true
			}
		}
		return false
	}
	if !waitFor(t, 5*time.Second, func() bool { return committed(note) || strings.Contains(out.String(), "failed: not recorded") }) {
		t.Fatal("the note neither committed nor was refused with a reason")
	}
	t.Logf("the note committed: %v (refused on screen: %v)", committed(note), strings.Contains(out.String(), "failed: not recorded"))
	// Events go on until even the reserve is used up: each is committed
	// or refused with the reason, and the engine never stops.
	var ok, refused int
	var firstFail time.Time
	for i := 0; i < 5000 && refused < 3; i++ {
		rep := r.Engine.Do(context.Background(), incident.Note{By: "maya", Text: fmt.Sprintf("note %d %s", i, strings.Repeat("x", 200))})
		switch {
		case rep.Err == nil:
			ok++
		case errors.Is(rep.Err, incident.ErrNotRecorded) && errors.Is(rep.Err, journal.ErrDiskFull):
			if refused == 0 {
				firstFail = time.Now()
			}
			refused++
		default:
			t.Fatalf("note %d: %v", i, rep.Err)
		}
	}
	t.Logf("on the full disk: %d notes committed (the reserve), %d refused: disk full", ok, refused)
	if refused > 0 {
		if !waitFor(t, 5*time.Second, func() bool { _, b := healthz(); return strings.Contains(b, "storage=failing") }) {
			t.Fatal("/healthz does not say writes fail within 5 s of the first failed write")
		}
		t.Logf("/healthz failing after %s", time.Since(firstFail).Round(10*time.Millisecond))
		if _, err := os.Stat(jpath + ".reserve"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the reserve was not released: %v", err)
		}
		// With the reserve gone, a note typed on the dashboard commits
		// (SQLite reuses the write-ahead log's space after a checkpoint)
		// or is refused, and then the screen says why. Notes are typed
		// until one is refused: the log's space runs out too.
		refusedOnScreen, typed := false, 0
		for i := 0; i < 40 && !refusedOnScreen; i++ {
			typed++
			text := fmt.Sprintf("typed note %d with the reserve gone %s", i, strings.Repeat("y", 300))
			mark := len(out.String())
			fmt.Fprint(in, "n")
			time.Sleep(200 * time.Millisecond)
			fmt.Fprint(in, text+"\r")
			if !waitFor(t, 5*time.Second, func() bool {
				return committed(text) || strings.Contains(out.String()[mark:], "failed: not recorded")
			}) {
				t.Fatalf("typed note %d neither committed nor was refused with a reason on screen", i)
			}
			refusedOnScreen = !committed(text)
		}
		if !refusedOnScreen {
			t.Fatal("40 notes typed with the reserve gone all committed")
		}
		t.Logf("with the reserve gone, %d typed notes committed before one was refused on screen", typed-1)
	}
	select {
	case <-r.Done():
		t.Fatalf("the engine stopped: %v", r.Engine.Err())
	case err := <-ended:
		t.Fatalf("the session was dropped: %v", err)
	default:
	}
	if s.Sessions() != 1 {
		t.Fatalf("%d sessions", s.Sessions())
	}

	// The space comes back: the room recovers by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	before := recorded()
	if !waitFor(t, 10*time.Second, func() bool { code, _ := healthz(); return code == 200 && recorded() > before+20 }) {
		code, body := healthz()
		t.Fatalf("no recovery: healthz %d %s, %d samples recorded since", code, body, recorded()-before)
	}
	if rep := r.Engine.Do(context.Background(), incident.Note{By: "maya", Text: "space is back"}); rep.Err != nil {
		t.Fatalf("a note after recovery: %v", rep.Err)
	}
	h := r.Journal.Health()
	t.Logf("after recovery: %s, %d samples shed, %d failed writes", h.State, h.SamplesDropped, h.FailedWrites)
	select {
	case err := <-ended:
		t.Fatalf("the session was dropped: %v", err)
	default:
	}
	journaltest.IntegrityCheck(t, jpath)
}
