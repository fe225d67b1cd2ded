package server

import (
	"context"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
	"github.com/warroom/warroom/room"
)

func TestMain(m *testing.M) {
	code := m.Run()
	journaltest.StopPostgres()
	os.Exit(code)
}

// TestHealthAndMetricsOfASharedRoom: /healthz names each process's role
// (and ?role=leader answers only on the leader), /metrics its role, the
// room's term, the follower lag and the commit latency; after a failover
// the standby says it leads, in the next term.
func TestHealthAndMetricsOfASharedRoom(t *testing.T) {
	url := journaltest.PostgresURL(t)
	cfg := &config.Config{
		Incident: config.Incident{Name: "shared"},
		Services: []config.Service{{ID: "tokens", Name: "Tokens", Owner: "alice"}},
		Roster:   []config.Person{{Handle: "maya"}, {Handle: "alice"}},
		Roles:    config.Roles{Commander: "maya"},
	}
	// b reaches the database through a proxy that the test cuts.
	pu, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := journaltest.NewProxy(t, pu.Host)
	viaProxy := *pu
	viaProxy.Host = proxy.Addr()
	start := func(node string) (*room.Room, *Server) {
		where := url
		if node == "b" {
			where = viaProxy.String()
		}
		r, err := room.Open(context.Background(), room.Options{Config: cfg, JournalPath: where, Shared: true, NoSources: true,
			Postgres: journal.PostgresOptions{Node: node, PollEvery: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(r, Options{SSHAddr: "-", HTTPAddr: "127.0.0.1:0", HostKeyPath: filepath.Join(t.TempDir(), "k")})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); r.Close() })
		return r, s
	}
	get := func(s *Server, path string) (int, string) {
		resp, err := http.Get("http://" + s.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitHealthCode := func(s *Server, want int, prefix string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := get(s, "/healthz")
			if code == want && strings.HasPrefix(body, prefix) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/healthz: %d %q, want %q", code, body, prefix)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitHealth := func(s *Server, prefix string) { t.Helper(); waitHealthCode(s, 200, prefix) }
	ra, sa := start("a")
	waitHealth(sa, "ok leader node=a term=1 ")
	rb, sb := start("b")
	waitHealth(sb, "ok standby node=b leader=a lag=0s ")
	if code, _ := get(sa, "/healthz?role=leader"); code != 200 {
		t.Fatalf("the leader's ?role=leader: %d", code)
	}
	if code, body := get(sb, "/healthz?role=leader"); code != 503 || !strings.Contains(body, "not the leader") {
		t.Fatalf("the standby's ?role=leader: %d %q", code, body)
	}
	if rep := ra.Engine.Do(context.Background(), incident.Note{By: "maya", Text: "x"}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	_, ma := get(sa, "/metrics")
	_, mb := get(sb, "/metrics")
	for _, want := range []string{`warroom_role{node="a",role="leader"} 1`, "warroom_leader_term 1", "warroom_terms_led_total 1", "warroom_journal_commit_seconds_bucket"} {
		if !strings.Contains(ma, want) {
			t.Errorf("the leader's metrics lack %q", want)
		}
	}
	for _, want := range []string{`warroom_role{node="b",role="standby"} 1`, "warroom_leader_term 1", "warroom_follower_lag_seconds 0", "warroom_terms_led_total 0"} {
		if !strings.Contains(mb, want) {
			t.Errorf("the standby's metrics lack %q", want)
		}
	}
	if !strings.Contains(ma, "warroom_journal_commit_seconds_count") || strings.Contains(ma, "warroom_journal_commit_seconds_count 0\n") {
		t.Errorf("no commit counted on the leader")
	}
	// A standby that cannot read the database says so: what its
	// dashboards show may be old, and a load balancer should not send
	// people there; it follows again once it can.
	proxy.Cut()
	waitHealthCode(sb, 503, "degraded standby node=b ")
	if _, body := get(sb, "/healthz"); !strings.HasSuffix(body, ": cannot read the journal\n") || strings.Contains(body, "127.0.0.1") {
		t.Errorf("the degraded standby does not say why, or names the database: %q", body)
	}
	if c := rb.Engine.Cluster(); c.Problem == "" {
		t.Errorf("b's cluster info has no problem: %+v", c)
	}
	proxy.Heal()
	waitHealth(sb, "ok standby node=b leader=a ")
	sa.Close()
	ra.Close()
	waitHealth(sb, "ok leader node=b term=2 ")
	if _, mb = get(sb, "/metrics"); !strings.Contains(mb, `warroom_role{node="b",role="leader"} 1`) || !strings.Contains(mb, "warroom_leader_term 2") {
		t.Errorf("after the failover:\n%s", mb)
	}
}
