package server

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/room"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

// The public status page is served on its own address, without the API
// or any token; the Statuspage publisher runs; /metrics shows every
// destination outside the room.
func TestStatusPageApartFromTheAPI(t *testing.T) {
	t.Setenv("WARROOM_TEST_SP_KEY", "sp-canary-key-0123456789")
	sp := spsim.New(spsim.Options{APIKey: "sp-canary-key-0123456789", Components: []spsim.Component{{ID: "cmpclaims001", Name: "Claims"}}})
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	cfg := &config.Config{
		Incident: config.Incident{Name: "internal war room name", Severities: config.DefaultSeverityNames},
		Services: []config.Service{{ID: "tokens", Name: "Tokens"}},
		Roster:   []config.Person{{Handle: "maya"}, {Handle: "sam"}},
		Roles:    config.Roles{Commander: "maya", Comms: "sam"},
		Comms: &config.Comms{Title: "Wallet",
			Components: []config.Component{{ID: "claims", Name: "Claims", Services: []string{"tokens"}, StatuspageID: "cmpclaims001"}},
			Statuspage: &config.Statuspage{APIURL: sp.APIURL(), PageID: sp.PageID(), APIKey: config.Secret{Env: "WARROOM_TEST_SP_KEY"}}},
	}
	dir := t.TempDir()
	r, err := room.Open(context.Background(), room.Options{Config: cfg, JournalPath: filepath.Join(dir, "j.db"), NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := New(r, Options{SSHAddr: "-", HTTPAddr: "127.0.0.1:0", StatusAddr: "127.0.0.1:0", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep := r.Engine.Do(context.Background(), incident.SubmitUpdate{By: "maya", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating,
		Body: "We are investigating slow claims.", Notify: true, Components: []incident.ComponentChange{{ID: "claims", Status: incident.ComponentDegraded}}}})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	get := func(base, path string) (int, http.Header, string) {
		resp, err := http.Get("http://" + base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h, body := get(s.StatusAddr(), "/")
		if code == 200 && strings.Contains(body, "We are investigating slow claims.") {
			if h.Get("Set-Cookie") != "" || strings.Contains(body, "internal war room name") || !strings.Contains(body, "Wallet status") {
				t.Fatalf("page headers %v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the update never showed: %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, path := range []string{"/api/timeline", "/metrics", "/healthz"} {
		if code, _, _ := get(s.StatusAddr(), path); code != 404 {
			t.Errorf("the status address serves %s: %d", path, code)
		}
	}
	// The publisher delivered it to Statuspage too.
	for len(sp.Incidents()) == 0 || r.Lead().Publisher.Status().Queued != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Statuspage has %d incidents; publisher %+v", len(sp.Incidents()), r.Lead().Publisher.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, _, metrics := get(s.HTTPAddr(), "/metrics")
	for _, want := range []string{`warroom_outbox_up{dest="statuspage",state="ok"} 1`, `warroom_outbox_queued{dest="statuspage"} 0`, `warroom_outbox_lag_seconds{dest="statuspage"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "sp-canary-key") {
		t.Error("/metrics shows the Statuspage key")
	}
}
