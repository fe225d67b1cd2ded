package paging

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	pdsim "github.com/warroom/warroom/sim/pagerduty"
)

var t0 = time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC)

const (
	keyEnv    = "WARROOM_TEST_PD_KEY"
	bobKeyEnv = "WARROOM_TEST_PD_BOB_KEY"
	secretEnv = "WARROOM_TEST_PD_SECRET"
	secret    = "whsec-test-0123456789"
)

// testConfig: maya commands; alice owns tokens with bob as backup; bob
// owns history (no backup); olga observes. Everyone is a PagerDuty user
// but carl, who is not on the roster at all. The room pages through one
// integration; bob has his own.
func testConfig(pdURL string) *config.Config {
	return &config.Config{
		Incident:   config.Incident{Name: "paging test"},
		Escalation: config.Escalation{Owner: config.Duration(time.Minute), Backup: config.Duration(2 * time.Minute), Commander: config.Duration(5 * time.Minute)},
		Services: []config.Service{
			{ID: "tokens", Name: "Tokens", Owner: "alice", Backup: "bob"},
			{ID: "history", Name: "History", Owner: "bob"},
		},
		Roster: []config.Person{
			{Handle: "maya", PagerDuty: &config.PersonPagerDuty{User: "PMAYA01"}},
			{Handle: "alice", PagerDuty: &config.PersonPagerDuty{User: "PALICE1"}},
			{Handle: "bob", PagerDuty: &config.PersonPagerDuty{User: "PBOB001"}},
			{Handle: "olga", PagerDuty: &config.PersonPagerDuty{User: "POLGA01"}},
		},
		Roles:     config.Roles{Commander: "maya"},
		PagerDuty: &config.PagerDuty{EventsURL: pdURL, RoutingKey: config.Secret{Env: keyEnv}, WebhookSecret: config.Secret{Env: secretEnv}},
	}
}

type rig struct {
	t     *testing.T
	clk   *clock.Fake
	cfg   *config.Config
	path  string
	j     *journal.SQLite
	eng   *incident.Engine
	pd    *pdsim.Server
	pager *Pager
	hook  *Webhook
	web   *httptest.Server
	// handler is the webhook receiver's handler, set once the Pager runs.
	handler swap
	key     string
	cancel  context.CancelFunc
	stop    context.CancelFunc
}

type rigOpts struct {
	pd      pdsim.Options
	bobKey  bool // bob pages through his own integration
	noStart bool
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	r := &rig{t: t, clk: clock.NewFake(t0), path: filepath.Join(t.TempDir(), "j.db"), key: pdsim.NewRoutingKey()}
	t.Setenv(keyEnv, r.key)
	t.Setenv(secretEnv, secret)
	// The webhook receiver exists before the fake, which posts to it.
	r.web = httptest.NewServer(&r.handler)
	t.Cleanup(r.web.Close)
	o.pd.Clock = r.clk
	o.pd.Integrations = append(o.pd.Integrations,
		pdsim.Integration{RoutingKey: r.key, ServiceID: "PSVC001", ServiceName: "war room", Assignee: pdsim.User{ID: "PALICE1", Name: "Alice Ames"}})
	bobKey := pdsim.NewRoutingKey()
	if o.bobKey {
		t.Setenv(bobKeyEnv, bobKey)
		o.pd.Integrations = append(o.pd.Integrations,
			pdsim.Integration{RoutingKey: bobKey, ServiceID: "PSVCBOB", ServiceName: "bob's pager", Assignee: pdsim.User{ID: "PBOB001", Name: "Bob Burns"}})
	}
	o.pd.WebhookURL = r.web.URL + "/api/pagerduty"
	o.pd.WebhookSecrets = []string{secret}
	r.pd = pdsim.New(o.pd)
	if err := r.pd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.pd.Close)
	r.cfg = testConfig(r.pd.URL())
	if o.bobKey {
		r.cfg.Roster[2].PagerDuty.RoutingKey = config.Secret{Env: bobKeyEnv}
	}
	r.open()
	if !o.noStart {
		r.startPager()
	}
	return r
}

func (r *rig) open() {
	r.t.Helper()
	j, err := journal.Open(r.path)
	if err != nil {
		r.t.Fatal(err)
	}
	r.j = j
	r.eng, err = incident.New(incident.Options{Config: r.cfg, Journal: j, Clock: r.clk})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.eng.Run(ctx)
	r.t.Cleanup(r.close)
	r.sync()
}

func (r *rig) startPager() {
	r.t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	p, err := Start(ctx, Options{Engine: r.eng, Journal: r.j, Clock: r.clk, CheckAfter: 5 * time.Second, MaxBackoff: 8 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	r.pager, r.stop = p, stop
	r.hook = &Webhook{Engine: r.eng, Config: r.cfg, Groups: p.Groups, Delivered: p.Delivered, Clock: r.clk}
	r.handler.Store(r.hook)
}

func (r *rig) close() {
	if r.stop != nil {
		r.stop()
		<-r.pager.Done()
		r.stop = nil
	}
	if r.cancel != nil {
		r.cancel()
		<-r.eng.Done()
		r.cancel = nil
	}
	if r.j != nil {
		r.j.Close()
		r.j = nil
	}
}

// sync waits until the engine has decided everything sent before.
func (r *rig) sync() {
	r.t.Helper()
	r.eng.Do(context.Background(), incident.Ack{By: "maya", AlertID: "A0"})
}

func (r *rig) do(cmd incident.Command) incident.Reply {
	r.t.Helper()
	rep := r.eng.Do(context.Background(), cmd)
	if rep.Err != nil {
		r.t.Fatalf("%T: %v", cmd, rep.Err)
	}
	return rep
}

// advance moves the room's clock a second at a time, letting the engine
// take each heartbeat and the Pager do what is due before the next.
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	for step := time.Second; d > 0; d -= step {
		r.clk.Advance(step)
		// The engine sets its next heartbeat (now + 1s) as it takes this
		// one: wait for that, so that the round trip below comes after
		// the heartbeat. Without it, on a loaded machine a heartbeat could
		// slip a second and the escalation's page be committed after the
		// test looked for it. (The outbox's timers share the clock, so
		// counting timers is not enough.)
		next := r.clk.Now().Add(time.Second)
		for deadline := time.Now().Add(10 * time.Second); !r.clk.WaiterAt(next) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Microsecond)
		}
		r.sync()
		if r.pager != nil {
			waitFor(r.t, "the Pager to settle", r.pager.ob.Quiet)
		}
	}
}

func (r *rig) state() *incident.State {
	r.t.Helper()
	st, sub, err := r.eng.Subscribe(context.Background(), 1)
	if err != nil {
		r.t.Fatal(err)
	}
	r.eng.Unsubscribe(sub)
	return st
}

func (r *rig) events(kind incident.Kind) []incident.Event {
	var out []incident.Event
	for _, e := range r.state().Recent {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// accepted are the events PagerDuty accepted, by action.
func (r *rig) accepted(action string) []pdsim.Event {
	var out []pdsim.Event
	for _, e := range r.pd.Events() {
		if e.Status == 202 && (action == "" || e.Action == action) {
			out = append(out, e)
		}
	}
	return out
}

// delivered waits (in real time) until the outbox has nothing queued.
func (r *rig) delivered() {
	r.t.Helper()
	waitFor(r.t, "the PagerDuty outbox to drain", func() bool {
		st := r.pager.Status()
		return st.Queued == 0 && r.pager.ob.Cursor() >= r.j.LastSeq()
	})
}

type swap struct{ atomic.Pointer[Webhook] }

func (s *swap) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := s.Load()
	if h == nil {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, req)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func pageSeq(e pdsim.Event) int64 {
	var p struct {
		Details struct {
			Seq int64 `json:"page_event"`
		} `json:"custom_details"`
	}
	json.Unmarshal(e.Payload, &p)
	return p.Details.Seq
}

func paged(e pdsim.Event) string {
	var p struct {
		Details struct {
			Paged string `json:"paged"`
		} `json:"custom_details"`
	}
	json.Unmarshal(e.Payload, &p)
	return p.Details.Paged
}
