package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/room"
	pdsim "github.com/warroom/warroom/sim/pagerduty"
)

// serve wires paging end to end: a room whose file names a routing key
// pages the local PagerDuty, its acknowledgement comes back through
// /api/pagerduty on the HTTP listener, and /metrics reports the pagerduty
// outbox. A room without a routing key answers /api/pagerduty 404.
func TestServePagesAndTakesPagerDutyWebhooks(t *testing.T) {
	key := pdsim.NewRoutingKey()
	t.Setenv("WARROOM_SERVE_PD_KEY", key)
	t.Setenv("WARROOM_SERVE_PD_SECRET", "whsec-serve")
	cfg := &config.Config{
		Incident:   config.Incident{Name: "paging over serve"},
		Escalation: config.Escalation{Owner: config.Duration(time.Second), Backup: config.Duration(time.Hour), Commander: config.Duration(2 * time.Hour)},
		Services:   []config.Service{{ID: "tokens", Name: "Tokens", Owner: "alice"}},
		Roster: []config.Person{{Handle: "maya"},
			{Handle: "alice", PagerDuty: &config.PersonPagerDuty{User: "PALICE1", RoutingKey: config.Secret{Env: "WARROOM_SERVE_PD_KEY"}}}},
		Roles: config.Roles{Commander: "maya"},
	}
	// The webhook URL is known once serve listens: start PagerDuty's side
	// with a placeholder and point it there after.
	hook := &lateURL{}
	pd := pdsim.New(pdsim.Options{Integrations: []pdsim.Integration{{RoutingKey: key, ServiceID: "PSVC001", Assignee: pdsim.User{ID: "PALICE1", Name: "Alice"}}},
		WebhookURL: "http://127.0.0.1:1/api/pagerduty", WebhookSecrets: []string{"whsec-serve"}, WebhookClient: &http.Client{Transport: hook, Timeout: 5 * time.Second}})
	if err := pd.Start(); err != nil {
		t.Fatal(err)
	}
	defer pd.Close()
	cfg.PagerDuty = &config.PagerDuty{EventsURL: pd.URL(), WebhookSecret: config.Secret{Env: "WARROOM_SERVE_PD_SECRET"}}
	r, err := room.Open(context.Background(), room.Options{Config: cfg, JournalPath: filepath.Join(t.TempDir(), "j.db"), NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := New(r, Options{SSHAddr: "-", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hook.host = s.HTTPAddr()

	if rep := r.Engine.Do(context.Background(), incidenttest.Firing("tokens", incident.LevelCrit, "claims failing")); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if !waitFor(t, 15*time.Second, func() bool { return len(pd.Incidents()) == 1 }) {
		t.Fatal("alice was not paged in PagerDuty")
	}
	pd.Acknowledge(pd.Incidents()[0].ID, "PALICE1")
	acked := func() bool {
		st, sub, _ := r.Engine.Subscribe(context.Background(), 1)
		r.Engine.Unsubscribe(sub)
		for _, e := range st.Recent {
			if e.Kind == incident.KindAck && e.Actor == "alice" && strings.HasSuffix(e.Text, "via PagerDuty") {
				return true
			}
		}
		return false
	}
	if !waitFor(t, 15*time.Second, acked) {
		t.Fatalf("the ack from PagerDuty did not reach the room through serve: %+v", pd.Deliveries())
	}
	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `warroom_outbox_queued{dest="pagerduty"}`) || !strings.Contains(string(b), `warroom_outbox_up{dest="pagerduty",state="ok"} 1`) {
		t.Fatalf("metrics:\n%s", b)
	}
	if !strings.HasPrefix(r.PagingStatus(), "ok") {
		t.Fatalf("status %q", r.PagingStatus())
	}

	// One receiver serves every request: a delivery refused once (an
	// unmapped PagerDuty user) and sent again is known as a replay.
	body, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": "ev-carl", "event_type": "incident.acknowledged", "resource_type": "incident", "occurred_at": time.Now().UTC().Format(time.RFC3339),
		"agent": map[string]any{"id": "PCARL01", "type": "user_reference", "summary": "Carl"},
		"data":  map[string]any{"id": "Q1", "type": "incident", "number": 1, "incident_key": pd.Incidents()[0].IncidentKey},
	}})
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr()+"/api/pagerduty", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-PagerDuty-Signature", pdsim.Sign(body, "whsec-serve"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	replayed := func() bool {
		st, sub, _ := r.Engine.Subscribe(context.Background(), 1)
		r.Engine.Unsubscribe(sub)
		for _, e := range st.Recent {
			if e.Kind == incident.KindPaging && strings.Contains(e.Text, "a replayed delivery") {
				return true
			}
		}
		return false
	}
	if !waitFor(t, 5*time.Second, replayed) {
		t.Fatal("the second delivery was not refused as a replay")
	}

	// A room that does not page: 404.
	g := newRig(t, nil)
	resp, err = http.Post("http://"+g.s.HTTPAddr()+"/api/pagerduty", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("no paging: %d", resp.StatusCode)
	}
}

// lateURL sends PagerDuty's webhooks to the server's address once known.
type lateURL struct{ host string }

func (l *lateURL) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Host = l.host
	req.Host = l.host
	return http.DefaultTransport.RoundTrip(req)
}
