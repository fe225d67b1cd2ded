package paging

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	pdsim "github.com/warroom/warroom/sim/pagerduty"
)

// post sends a webhook body to the room as PagerDuty would, signed with
// sig (or left unsigned when sig is "").
func (r *rig) post(body []byte, sig string, hdr map[string]string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.web.URL+"/api/pagerduty", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-PagerDuty-Signature", sig)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Status
}

// event is a V3 webhook body in the documented shape.
func event(id, typ, user, incidentKey string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": id, "event_type": typ, "resource_type": "incident", "occurred_at": at.UTC().Format("2006-01-02T15:04:05.000Z"),
		"agent":  map[string]any{"id": user, "type": "user_reference", "summary": "Someone " + user},
		"client": map[string]any{"name": "PagerDuty"},
		"data":   map[string]any{"id": "Q1ABCDE", "type": "incident", "number": 7, "status": "acknowledged", "incident_key": incidentKey, "title": "x"},
	}})
	return b
}

func (r *rig) audits() []string {
	var out []string
	for _, e := range r.events(incident.KindPaging) {
		out = append(out, e.Text)
	}
	return out
}

// The round trip: a page rings alice's phone; she acknowledges there; the
// signed incident.acknowledged acks the group in the room as alice.
// Then: a bad signature, a replayed delivery, an unmapped PagerDuty user,
// a person the room does not allow to ack and a stale event are refused
// and audited, and none of them acks anything.
func TestWebhookAcksAsTheMappedPersonAndRefusesTheRest(t *testing.T) {
	r := newRig(t, rigOpts{})
	a := r.do(incidenttest.Firing("tokens", incident.LevelCrit, "claims failing")).Events[0].Alert
	r.advance(61 * time.Second)
	r.delivered()
	incs := r.pd.Incidents()
	if len(incs) != 1 {
		t.Fatalf("incidents %+v", incs)
	}
	if !r.pd.Acknowledge(incs[0].ID, "PALICE1") {
		t.Fatal("the phone could not ack")
	}
	waitFor(t, "the ack from PagerDuty", func() bool { return len(r.events(incident.KindAck)) == 1 })
	ack := r.events(incident.KindAck)[0]
	if ack.Actor != "alice" || ack.Alert.ID != a.ID || !strings.HasSuffix(ack.Text, "via PagerDuty") {
		t.Fatalf("ack %+v", ack)
	}
	var delivered pdsim.Delivery
	waitFor(t, "the delivery's answer", func() bool {
		for _, d := range r.pd.Deliveries() {
			if d.EventType == "incident.acknowledged" {
				delivered = d
			}
		}
		return delivered.Status != 0
	})
	if delivered.Status != http.StatusOK {
		t.Fatalf("delivery %+v", delivered)
	}
	if len(r.audits()) != 0 {
		t.Fatalf("audits after a good ack: %q", r.audits())
	}

	// A second problem, paged, for the refusals.
	b := r.do(incidenttest.Firing("tokens", incident.LevelCrit, "claims failing again")).Events[0].Alert
	r.advance(61 * time.Second)
	r.delivered()
	key := r.pd.Incidents()[1].IncidentKey
	now := r.clk.Now()

	// Bad signature: the body signed with another secret.
	body := event("ev-bad", "incident.acknowledged", "PALICE1", key, now)
	if code, _ := r.post(body, pdsim.Sign(body, "not-the-secret"), nil); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	if code, _ := r.post(body, "", nil); code != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d", code)
	}
	// Replay of the delivery that acked A2 (and of its X-Webhook-Id).
	if code, st := r.post(delivered.Body, pdsim.Sign(delivered.Body, secret), map[string]string{"X-Webhook-Id": delivered.ID}); code != http.StatusOK || st != "refused" {
		t.Fatalf("replay: %d %s", code, st)
	}
	// An unmapped PagerDuty user, and an observer.
	body = event("ev-carl", "incident.acknowledged", "PCARL01", key, now)
	if code, st := r.post(body, pdsim.Sign(body, secret), nil); code != http.StatusOK || st != "refused" {
		t.Fatalf("unmapped: %d %s", code, st)
	}
	body = event("ev-olga", "incident.acknowledged", "POLGA01", key, now)
	if code, _ := r.post(body, pdsim.Sign(body, secret), nil); code != http.StatusOK {
		t.Fatalf("observer: %d", code)
	}
	// Too old, and from before the problem started.
	body = event("ev-old", "incident.acknowledged", "PALICE1", key, now.Add(-time.Hour))
	if code, st := r.post(body, pdsim.Sign(body, secret), nil); code != http.StatusOK || st != "refused" {
		t.Fatalf("old: %d %s", code, st)
	}
	body = event("ev-early", "incident.acknowledged", "PALICE1", key, now.Add(-2*time.Minute))
	r.post(body, pdsim.Sign(body, secret), nil)

	st := r.state()
	if st.Alerts[b.ID].Acked() {
		t.Fatalf("a refused delivery acked %s: %+v", b.ID, st.Alerts[b.ID])
	}
	audits := strings.Join(r.audits(), "\n")
	for _, want := range []string{"bad signature from 127.0.0.1", "no X-PagerDuty-Signature", "a replayed delivery",
		"by Someone PCARL01 (PCARL01), who is on no roster entry", "as olga: olga", "(older than 30m0s)", "older than the alerts it would ack"} {
		if !strings.Contains(audits, want) {
			t.Errorf("no audit saying %q in:\n%s", want, audits)
		}
	}
	if strings.Contains(audits, secret) {
		t.Fatal("the secret in an audit")
	}
	// And the good one still works.
	body = event("ev-good", "incident.acknowledged", "PALICE1", key, now)
	if code, st := r.post(body, pdsim.Sign(body, "old-secret", secret), nil); code != http.StatusOK || st != "ok" {
		t.Fatalf("signed with two secrets (rotation): %d %s", code, st)
	}
	if !r.state().Alerts[b.ID].Acked() {
		t.Fatal("not acked")
	}
}

// A flood of bad signatures is one audit a minute, the next one counting
// the rest; requests a browser could make are refused before anything.
func TestWebhookAuditsAreBoundedAndBrowsersRefused(t *testing.T) {
	r := newRig(t, rigOpts{})
	body := event("x", "incident.acknowledged", "PALICE1", "k", r.clk.Now())
	for range 50 {
		r.post(body, pdsim.Sign(body, "wrong"), nil)
	}
	if n := len(r.audits()); n != 1 {
		t.Fatalf("%d audits for 50 bad signatures", n)
	}
	r.advance(time.Minute)
	r.post(body, pdsim.Sign(body, "wrong"), nil)
	if a := r.audits(); len(a) != 2 || !strings.Contains(a[1], "(and 49 more like it since") {
		t.Fatalf("audits %q", a)
	}
	sig := pdsim.Sign(body, secret)
	if code, _ := r.post(body, sig, map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Fatalf("Origin: %d", code)
	}
	if code, _ := r.post(body, sig, map[string]string{"Content-Type": "text/plain"}); code != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %d", code)
	}
	big := bytes.Repeat([]byte(" "), DefaultMaxBody+1)
	if code, _ := r.post(big, pdsim.Sign(big, secret), nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: %d", code)
	}
	// An event of an incident this room did not open: ignored quietly.
	other := event("y", "incident.acknowledged", "PALICE1", "someone-elses-key", r.clk.Now())
	if code, st := r.post(other, pdsim.Sign(other, secret), nil); code != http.StatusOK || st != "ignored" {
		t.Fatalf("not ours: %d %s", code, st)
	}
	t.Setenv(secretEnv, "")
	if code, _ := r.post(body, sig, nil); code != http.StatusUnauthorized {
		t.Fatalf("no secret: %d", code)
	}
	if n := len(r.audits()); n != 3 {
		t.Fatalf("audits %q", r.audits())
	}
}

// A delivery that acked in the room is still known after a restart: the
// ACK events record its ids, and the new process's Pager rebuilds the
// webhook's replay memory from the journal. Replayed, by event id or by
// X-Webhook-Id, it is refused and audited.
func TestWebhookReplayRefusedAfterRestart(t *testing.T) {
	r := newRig(t, rigOpts{})
	a := r.do(incidenttest.Firing("tokens", incident.LevelCrit, "claims failing")).Events[0].Alert
	r.advance(61 * time.Second)
	r.delivered()
	if !r.pd.Acknowledge(r.pd.Incidents()[0].ID, "PALICE1") {
		t.Fatal("the phone could not ack")
	}
	var delivered pdsim.Delivery
	waitFor(t, "the ack's delivery", func() bool {
		for _, d := range r.pd.Deliveries() {
			if d.EventType == "incident.acknowledged" && d.Status == http.StatusOK {
				delivered = d
			}
		}
		return delivered.Status != 0
	})
	if ack := r.events(incident.KindAck); len(ack) != 1 || len(ack[0].Alert.Delivery) != 2 {
		t.Fatalf("the ACK records the delivery: %+v", ack)
	}
	r.delivered()

	// A new process on the same journal.
	r.close()
	r.open()
	r.startPager()
	if !r.state().Alerts[a.ID].Acked() {
		t.Fatal("the ack did not survive the restart")
	}
	var other map[string]any
	json.Unmarshal(delivered.Body, &other) //nolint:errcheck
	other["event"].(map[string]any)["id"] = "a-new-event-id"
	renamed, _ := json.Marshal(other)
	for name, d := range map[string]struct {
		body []byte
		hdr  map[string]string
	}{
		"the same delivery":         {delivered.Body, map[string]string{"X-Webhook-Id": delivered.ID}},
		"its event id alone":        {delivered.Body, nil},
		"its X-Webhook-Id, renamed": {renamed, map[string]string{"X-Webhook-Id": delivered.ID}},
	} {
		if code, st := r.post(d.body, pdsim.Sign(d.body, secret), d.hdr); code != http.StatusOK || st != "refused" {
			t.Fatalf("%s replayed after the restart: %d %s", name, code, st)
		}
	}
	if audits := strings.Join(r.audits(), "\n"); !strings.Contains(audits, "a replayed delivery") {
		t.Fatalf("no replay audit after the restart:\n%s", audits)
	}
}
