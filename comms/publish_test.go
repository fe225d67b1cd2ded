package comms

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/outbox"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

const apiKey = "sp-key-canaryDoNotLeak-0123456789"

var t0 = time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC)

// testConfig: rosa commands, sam is comms, claims is backed by tokens and
// mapped to the Statuspage component "cmpclaims001".
func testConfig(apiURL, page string) *config.Config {
	return &config.Config{
		Incident: config.Incident{Name: "JUP airdrop", Severities: config.DefaultSeverityNames},
		Services: []config.Service{{ID: "tokens", Name: "Tokens"}, {ID: "history", Name: "History"}},
		Roster:   []config.Person{{Handle: "rosa"}, {Handle: "sam"}, {Handle: "dev"}},
		Roles:    config.Roles{Commander: "rosa", Comms: "sam", Deputy: "dev"},
		Comms: &config.Comms{Title: "Wallet",
			Cadence: config.Cadence{Every: config.Duration(30 * time.Minute), AfterChange: config.Duration(10 * time.Minute)},
			Components: []config.Component{
				{ID: "claims", Name: "Claims", Services: []string{"tokens"}, StatuspageID: "cmpclaims001"},
				{ID: "history", Name: "Activity", Services: []string{"history"}, StatuspageID: "cmphistory01"},
			},
			Statuspage: &config.Statuspage{APIURL: apiURL, PageID: page, APIKey: config.Secret{Env: "WARROOM_TEST_SP_KEY"}},
		},
	}
}

type rig struct {
	t   testing.TB
	clk *clock.Fake
	sp  *spsim.Server
	j   *journal.SQLite
	eng *incident.Engine
	pub *Publisher

	cancelEng, cancelPub context.CancelFunc
	path                 string
	cfg                  *config.Config
}

func newRig(t testing.TB, so spsim.Options) *rig {
	t.Helper()
	t.Setenv("WARROOM_TEST_SP_KEY", apiKey)
	clk := clock.NewFake(t0)
	so.Clock, so.APIKey = clk, apiKey
	if so.Components == nil {
		so.Components = []spsim.Component{{ID: "cmpclaims001", Name: "Claims"}, {ID: "cmphistory01", Name: "Activity"}}
	}
	sp := spsim.New(so)
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	r := &rig{t: t, clk: clk, sp: sp, path: filepath.Join(t.TempDir(), "j.db"), cfg: testConfig(sp.APIURL(), sp.PageID())}
	r.open()
	t.Cleanup(r.close)
	return r
}

func (r *rig) open() {
	r.t.Helper()
	j, err := journal.Open(r.path)
	if err != nil {
		r.t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: r.cfg, Journal: j, Clock: r.clk})
	if err != nil {
		r.t.Fatal(err)
	}
	ectx, ecancel := context.WithCancel(context.Background())
	go eng.Run(ectx)
	pctx, pcancel := context.WithCancel(context.Background())
	pub, err := Start(pctx, Options{Engine: eng, Journal: j, Clock: r.clk, CheckAfter: 2 * time.Second, MaxBackoff: 4 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	r.j, r.eng, r.pub, r.cancelEng, r.cancelPub = j, eng, pub, ecancel, pcancel
}

func (r *rig) close() {
	if r.pub != nil {
		r.cancelPub()
		<-r.pub.Done()
		r.cancelEng()
		<-r.eng.Done()
		r.j.Close()
		r.pub = nil
	}
}

func (r *rig) do(c incident.Command) incident.Reply {
	r.t.Helper()
	rep := r.eng.Do(context.Background(), c)
	if rep.Err != nil {
		r.t.Fatalf("%T: %v", c, rep.Err)
	}
	return rep
}

func (r *rig) state() *incident.State {
	s, sub, err := r.eng.Subscribe(context.Background(), 1)
	if err != nil {
		r.t.Fatal(err)
	}
	r.eng.Unsubscribe(sub)
	return s
}

// drain waits until the outbox has nothing queued, moving the fake clock
// on while it waits for one (a Retry-After, a backoff, a check).
func (r *rig) drain() {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := r.pub.Status()
		if st.Queued == 0 && r.pub.ob.Cursor() == r.j.LastSeq() {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("not drained: %+v", st)
		}
		if st.State == outbox.StateStopped {
			r.t.Fatalf("stopped: %+v", st)
		}
		time.Sleep(2 * time.Millisecond)
		if r.clk.Waiters() > 0 {
			r.clk.Advance(500 * time.Millisecond)
		}
	}
}

// delivered waits for update id's DELIVERY event.
func (r *rig) delivered(id, state string) incident.Delivery {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if u := r.state().Life.Update(id); u != nil {
			if d, ok := u.Delivery[DestStatuspage]; ok && d.State == state {
				return d
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.t.Fatalf("no %s delivery of %s: %+v", state, id, r.state().Life.Update(id))
	return incident.Delivery{}
}

func TestPublishesUpdatesComponentsAndNotify(t *testing.T) {
	r := newRig(t, spsim.Options{})
	r.do(incident.SetSeverity{By: "rosa", Severity: "SEV2"})
	first := incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating, Body: "We are investigating slow claims.\nYour tokens are safe.",
		Notify: true, Components: []incident.ComponentChange{{ID: "claims", Status: incident.ComponentDegraded}}}
	u1 := r.do(incident.SubmitUpdate{By: "rosa", Draft: first}).Events[0].Update.ID
	r.drain()
	d1 := r.delivered(u1, incident.DeliveryDelivered)
	incs := r.sp.Incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents on the page", len(incs))
	}
	in := incs[0]
	if in.Name != "Slow claims" || in.Status != "investigating" || in.Impact != "major" || len(in.IncidentUpdates) != 1 {
		t.Fatalf("incident %+v", in)
	}
	up := in.IncidentUpdates[0]
	if up.Body != first.Body || !up.DeliverNotifications || up.ID != d1.Remote || len(up.AffectedComponents) != 1 ||
		up.AffectedComponents[0].NewStatus != "degraded_performance" || up.AffectedComponents[0].OldStatus != "operational" {
		t.Fatalf("first update %+v (delivery %+v)", up, d1)
	}
	meta, _ := in.Metadata["warroom"].(map[string]any)
	if !strings.HasSuffix(meta["key"].(string), "-"+u1) || meta["update"] != meta["key"] {
		t.Fatalf("metadata %+v", in.Metadata)
	}
	// A quiet update (notify off) patches the same incident.
	quiet := incident.Draft{Title: "Slow claims", Status: incident.StatusIdentified, Body: "We found the cause.", Notify: false}
	u2 := r.do(incident.SubmitUpdate{By: "rosa", Draft: quiet}).Events[0].Update.ID
	// A component change of its own is public at once.
	r.do(incident.SetComponent{By: "sam", Component: "history", Status: incident.ComponentPartial})
	r.drain()
	r.delivered(u2, incident.DeliveryDelivered)
	in = r.sp.Incidents()[0]
	if len(r.sp.Incidents()) != 1 || len(in.IncidentUpdates) != 2 || in.Status != "identified" || in.IncidentUpdates[0].DeliverNotifications ||
		in.IncidentUpdates[0].Body != quiet.Body {
		t.Fatalf("after the second update %+v", in)
	}
	comps := map[string]string{}
	for _, c := range r.sp.Components() {
		comps[c.ID] = c.Status
	}
	if comps["cmpclaims001"] != "degraded_performance" || comps["cmphistory01"] != "partial_outage" {
		t.Fatalf("components %v", comps)
	}
	if v := r.sp.Violations(); len(v) != 0 {
		t.Fatalf("violations %v", v)
	}
}

// Statuspage's 420 (and 429) carry a Retry-After: the publisher waits
// exactly that long, and sends nothing before.
func TestRateLimitIsWaitedOut(t *testing.T) {
	for _, status := range []int{420, 429} {
		t.Run(fmt.Sprintf("HTTP %d", status), func(t *testing.T) {
			r := newRig(t, spsim.Options{RatePerWindow: 2, RateLimitStatus: status})
			var ids []string
			for i, s := range []string{incident.StatusInvestigating, incident.StatusInvestigating, incident.StatusInvestigating, incident.StatusIdentified} {
				d := incident.Draft{Title: "Slow claims", Status: s, Body: "update " + string(rune('a'+i)), Notify: true}
				ids = append(ids, r.do(incident.SubmitUpdate{By: "rosa", Draft: d}).Events[0].Update.ID)
			}
			r.drain()
			for _, id := range ids {
				r.delivered(id, incident.DeliveryDelivered)
			}
			limited := 0
			for _, q := range r.sp.Requests() {
				if q.Status == status {
					limited++
				}
			}
			if limited == 0 {
				t.Fatalf("the fake never rate-limited: %+v", r.sp.Requests())
			}
			if v := r.sp.Violations(); len(v) != 0 {
				t.Fatalf("sent before Retry-After: %v", v)
			}
			if in := r.sp.Incidents(); len(in) != 1 || len(in[0].IncidentUpdates) != 4 {
				t.Fatalf("page %+v", in)
			}
		})
	}
}

// A create and an update whose answers were lost are found on the page,
// not sent again.
func TestLostAnswersAreCheckedNotResent(t *testing.T) {
	r := newRig(t, spsim.Options{})
	r.sp.DropReplies(1)
	u1 := r.do(incident.SubmitUpdate{By: "rosa", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating, Body: "Investigating.", Notify: true}}).Events[0].Update.ID
	r.delivered(u1, incident.DeliveryUncertain)
	r.drain()
	r.delivered(u1, incident.DeliveryDelivered)
	r.sp.DropReplies(1)
	u2 := r.do(incident.SubmitUpdate{By: "rosa", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating, Body: "Investigating.", Notify: true}}).Events[0].Update.ID
	r.drain()
	r.delivered(u2, incident.DeliveryDelivered)
	incs := r.sp.Incidents()
	if len(incs) != 1 || len(incs[0].IncidentUpdates) != 2 {
		t.Fatalf("page after two lost answers: %d incidents, %+v", len(incs), incs)
	}
	var dropped, checks int
	for _, q := range r.sp.Requests() {
		if q.Dropped {
			dropped++
		}
		if q.Method == "GET" {
			checks++
		}
	}
	if dropped != 2 || checks < 2 {
		t.Fatalf("%d dropped answers, %d checks", dropped, checks)
	}
	rows, _ := r.j.OutboxRows(context.Background(), false, DestStatuspage)
	for _, row := range rows {
		if row.State != journal.OutboxDelivered || !row.WasUncertain || row.Attempts != 1 {
			t.Errorf("row %s: %+v", row.Key, row)
		}
	}
}

// A wrong key stops publishing with the reason, keeps the queue, and never
// shows the key; fixing it and resuming publishes.
func TestBadKeyStopsAndKeepsTheQueue(t *testing.T) {
	r := newRig(t, spsim.Options{})
	r.close()
	t.Setenv("WARROOM_TEST_SP_KEY", "wrong-key-canary-0123456789")
	r.open()
	id := r.do(incident.SubmitUpdate{By: "rosa", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating, Body: "x", Notify: true}}).Events[0].Update.ID
	deadline := time.Now().Add(10 * time.Second)
	for r.pub.Status().State != outbox.StateStopped {
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", r.pub.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
	st := r.pub.Status()
	if !errors.Is(st.Cause, outbox.ErrFatal) || !strings.Contains(st.Err, "Could not authenticate") || strings.Contains(st.Err, "canary") || st.Queued != 1 {
		t.Fatalf("status %+v", st)
	}
	if line := r.pub.StatusLine(); !strings.Contains(line, "stopped, 1 queued: Statuspage: Could not authenticate") {
		t.Fatalf("status line %q", line)
	}
	r.close()
	t.Setenv("WARROOM_TEST_SP_KEY", apiKey)
	r.open()
	r.drain()
	r.delivered(id, incident.DeliveryDelivered)
	if _, err := os.Stat(r.path); err != nil {
		t.Fatal(err)
	}
}
