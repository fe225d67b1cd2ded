package tui

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// commsFakeEngine is the fixture with a comms section and an incident
// that went public: SEV2, identified, an impact mark, two updates
// published (one delivered to Statuspage, one checking) and a third
// waiting for approval.
func commsFakeEngine() *fakeEngine {
	f := newFakeEngine()
	f.cfg = commsConfig(nil)
	f.cfg.Comms.Statuspage = &config.Statuspage{APIURL: "http://127.0.0.1:9/v1", PageID: "gytm4qzbx9t6", APIKey: config.Secret{Env: "X"}}
	f.roster = roles.NewRoster(f.cfg.Roster)
	b := &stateBuilder{st: f.st, cfg: f.cfg}
	ago := func(d time.Duration) time.Time { return tNow.Add(-d) }
	b.emit(ago(15*time.Minute), incident.Event{Kind: incident.KindSeverity, Actor: "rosa", Text: "rosa set the severity to SEV2 Major", Life: &incident.LifecycleInfo{Severity: "SEV2"}})
	b.emit(ago(14*time.Minute), incident.Event{Kind: incident.KindMarker, Actor: "lin", Text: "lin marked customer impact started",
		Life: &incident.LifecycleInfo{Marker: incident.MarkImpactStart, At: ago(16 * time.Minute).UTC()}})
	d1 := incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating, Body: "We are investigating slow claims.\nYour tokens are safe.", Notify: true,
		Components: []incident.ComponentChange{{ID: "claims", Status: incident.ComponentDegraded}}}
	pub := func(at time.Time, id string, d incident.Draft, by string) {
		ev := b.emit(at, incident.Event{Kind: incident.KindUpdate, Actor: by, Text: "published " + id, Update: &incident.UpdateInfo{ID: id, State: incident.UpdatePublished, Draft: &d, By: by, Key: "k-" + id}})
		if b.st.Life.Status != d.Status {
			b.emit(at, incident.Event{Kind: incident.KindStatus, Actor: by, Ref: ev.Seq, Text: "status " + d.Status, Life: &incident.LifecycleInfo{Status: d.Status}})
		}
		for _, ch := range d.Components {
			b.emit(at, incident.Event{Kind: incident.KindComponent, Actor: by, Ref: ev.Seq, Text: "component", Life: &incident.LifecycleInfo{Component: ch.ID, Status: ch.Status}})
		}
	}
	pub(ago(12*time.Minute), "U40", d1, "sam")
	b.emit(ago(12*time.Minute), incident.Event{Kind: incident.KindDelivery, Actor: "outbox", Text: "U40 reached Statuspage",
		Update: &incident.UpdateInfo{ID: "U40", State: incident.DeliveryDelivered, Dest: "statuspage", Remote: "abc"}})
	d2 := incident.Draft{Title: "Slow claims", Status: incident.StatusIdentified, Body: "Your transaction may have gone through; do not retry.", Notify: true}
	pub(ago(3*time.Minute), "U52", d2, "rosa")
	b.emit(ago(3*time.Minute), incident.Event{Kind: incident.KindDelivery, Actor: "outbox", Text: "U52 uncertain",
		Update: &incident.UpdateInfo{ID: "U52", State: incident.DeliveryUncertain, Dest: "statuspage", Error: "answer lost (timeout)"}})
	d3 := incident.Draft{Title: "Slow claims", Status: incident.StatusMonitoring, Body: "Claims are queued, not lost.", Notify: true}
	b.emit(ago(time.Minute), incident.Event{Kind: incident.KindUpdate, Actor: "sam", Text: "sam asks to publish U60",
		Update: &incident.UpdateInfo{ID: "U60", State: incident.UpdateAwaiting, Draft: &d3, Hash: d3.Hash(), By: "sam"}})
	return f
}

var commsGoldenViews = []struct {
	name   string
	handle string
	setup  func(m *Model)
}{
	{"comms", "rosa", func(m *Model) { press(m, "7") }},
	{"composer", "sam", func(m *Model) { press(m, "7", "w", "enter") }},
	{"review", "rosa", func(m *Model) { press(m, "A") }},
}

func TestCommsGolden(t *testing.T) {
	for _, v := range commsGoldenViews {
		for _, sz := range goldenSizes[:2] {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, sz.w, sz.h), func(t *testing.T) {
				f := commsFakeEngine()
				m := newTestModel(t, f, v.handle, sz.w, sz.h)
				v.setup(m)
				if os.Getenv("TUI_SHOW") != "" {
					fmt.Println(plainView(m))
				}
				golden.RequireEqual(t, asciiView(m))
			})
		}
	}
}

// The header carries the severity, the status, the countdown (for the
// comms role and the commander) and the times; the commander's A opens
// the review of the waiting update, bound to its hash.
func TestCommsHeaderAndApproval(t *testing.T) {
	f := commsFakeEngine()
	m := newTestModel(t, f, "rosa", 200, 40)
	head := strings.SplitN(plainView(m), "\n", 2)[0]
	for _, want := range []string{"SEV2 Major · identified", "update in 27:00", "TTD 2m00s TTA"} {
		if !strings.Contains(head, want) {
			t.Errorf("header %q lacks %q", head, want)
		}
	}
	if s := plainView(m); !strings.Contains(s, "sam asks to publish U60 (monitoring) \"Slow claims\" — press A to review") {
		t.Errorf("no approval banner:\n%s", s)
	}
	press(m, "A", "A")
	var sent *incident.ApproveUpdate
	for _, c := range f.sent {
		if a, ok := c.(incident.ApproveUpdate); ok {
			sent = &a
		}
	}
	if sent == nil || sent.ID != "U60" || sent.Hash != f.st.Life.Pending.Hash || sent.By != "rosa" {
		t.Fatalf("sent %+v", f.sent)
	}
	// An observer sees severity and status, not the countdown.
	o := newTestModel(t, commsFakeEngine(), "ollie", 200, 40)
	if head := strings.SplitN(plainView(o), "\n", 2)[0]; strings.Contains(head, "update in") || !strings.Contains(head, "SEV2 Major") {
		t.Errorf("observer header %q", head)
	}
	// The comms role cannot set the severity; the palette says why.
	sam := newTestModel(t, commsFakeEngine(), "sam", 120, 40)
	press(sam, "7", "v")
	if s := plainView(sam); !strings.Contains(s, "only the commander (rosa) can set the incident's severity") {
		t.Errorf("sam set the severity:\n%s", s)
	}
}
