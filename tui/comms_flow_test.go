package tui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/comms"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

const spKey = "sp-tui-canary-0123456789"

// commsConfig is the fixture's war room with a comms section that
// publishes to a local Statuspage.
func commsConfig(sp *spsim.Server) *config.Config {
	c := fixtureConfig()
	c.Incident.Severities = config.DefaultSeverityNames
	c.Comms = &config.Comms{Title: "Wallet",
		Cadence: config.Cadence{Every: dur(30 * time.Minute), AfterChange: dur(10 * time.Minute)},
		Components: []config.Component{
			{ID: "claims", Name: "Claims", Services: []string{"tokens", "blowfish"}, StatuspageID: "cmpclaims001"},
			{ID: "activity", Name: "Activity", Services: []string{"history"}, StatuspageID: "cmpactivity1"},
		},
		Templates: []config.Template{
			{ID: "investigating", Title: "Slow claims", Status: "investigating", Body: "We are investigating slow claims.\nYour tokens are safe."},
			{ID: "resolved", Title: "Slow claims", Status: "resolved", Body: "Claims are back to normal."},
		},
	}
	if sp != nil {
		c.Comms.Statuspage = &config.Statuspage{APIURL: sp.APIURL(), PageID: sp.PageID(), APIKey: config.Secret{Env: "WARROOM_TUI_SP_KEY"}}
	}
	return c
}

type commsRoom struct {
	e   *incident.Engine
	clk *clock.Fake
	sp  *spsim.Server
	pub *comms.Publisher
	pg  *comms.Page
}

func startCommsRoom(t *testing.T) *commsRoom {
	t.Helper()
	t.Setenv("WARROOM_TUI_SP_KEY", spKey)
	clk := clock.NewFake(tNow)
	sp := spsim.New(spsim.Options{APIKey: spKey, Clock: clk, Components: []spsim.Component{{ID: "cmpclaims001", Name: "Claims"}, {ID: "cmpactivity1", Name: "Activity"}}})
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := incident.New(incident.Options{Config: commsConfig(sp), Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ectx, ecancel := context.WithCancel(context.Background())
	go e.Run(ectx)
	pctx, pcancel := context.WithCancel(context.Background())
	pub, err := comms.Start(pctx, comms.Options{Engine: e, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := comms.NewPage(pctx, e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pcancel()
		<-pub.Done()
		<-pg.Done()
		ecancel()
		<-e.Done()
		j.Close()
	})
	return &commsRoom{e: e, clk: clk, sp: sp, pub: pub, pg: pg}
}

func startCommsTUI(t *testing.T, e *incident.Engine, handle string, profile colorprofile.Profile) *teatest.TestModel {
	t.Helper()
	m := New(Options{Engine: guarded{e}, Handle: handle, Profile: profile, Theme: ThemeDark})
	tm := teatest.NewTestModel(t, &probed{m: m}, teatest.WithInitialTermSize(140, 44),
		teatest.WithProgramOptions(append(ProgramOptions(Options{FPS: 30}), tea.WithColorProfile(profile))...))
	t.Cleanup(func() { _ = tm.Quit() })
	waitScreen(t, tm, "Tokens")
	return tm
}

// TestFlowCommsPublishesAnApprovedUpdate: sam (comms) sets the status and
// drafts the first update from a template; the composer shows exactly
// what will be published and that it waits for approval; rosa (the
// commander) sees the request, reviews and approves it; it is published
// to the local Statuspage and to the built-in page, and the countdown to
// the next update starts again at 30 minutes.
func TestFlowCommsPublishesAnApprovedUpdate(t *testing.T) {
	r := startCommsRoom(t)
	sam := startCommsTUI(t, r.e, "sam", colorprofile.ASCII)
	rosa := startCommsTUI(t, r.e, "rosa", colorprofile.ASCII)

	sam.Send(kp("7"))
	waitScreen(t, sam, "Incident", "not public yet", "Components", "Claims (tokens, blowfish)", "none yet — w writes one")
	// The status first: the incident goes public; an update is due in 10m.
	sam.Send(kp("s"))
	waitScreen(t, sam, "Set the incident's status")
	sam.Type("investigating")
	sam.Send(kp("enter"))
	eventually(t, "the STATUS", func() bool { return engineState(t, r.e).Life.Status == incident.StatusInvestigating })
	waitScreen(t, sam, "update in 10:00", "Next update due in 10:00")
	waitScreen(t, rosa, "update in 10:00")
	r.clk.Advance(4 * time.Minute)
	waitScreen(t, rosa, "update in 6:00")

	// Draft from a template.
	sam.Send(kp("w"))
	waitScreen(t, sam, "New public update from a template", "Slow claims — investigating")
	sam.Type("investigating")
	sam.Send(kp("enter"))
	waitScreen(t, sam, "New public update: exactly what will be published", "We are investigating slow claims.", "Your tokens are safe.",
		"Waits for the commander's approval: the first update needs approval", "Statuspage (page "+r.sp.PageID())
	// Claims: degraded performance (the third field down).
	for range 3 {
		sam.Send(kp("down"))
	}
	sam.Send(kp("right"))
	sam.Send(kp("right"))
	waitScreen(t, sam, "degraded performance (now operational)")
	sam.Send(kp("enter"))
	eventually(t, "the submission", func() bool { return engineState(t, r.e).Life.Pending != nil })
	waitScreen(t, sam, "Waiting for approval: U", "waiting for the commander")
	if n := len(r.sp.Incidents()); n != 0 {
		t.Fatalf("published before approval: %d incidents", n)
	}

	// The commander approves what was shown.
	waitScreen(t, rosa, "sam asks to publish U", "press A to review")
	rosa.Send(kp("A"))
	waitScreen(t, rosa, "Approve U", "for publication?", "We are investigating slow claims.", "degraded performance")
	rosa.Send(kp("A"))
	eventually(t, "the publication", func() bool { return len(engineState(t, r.e).Life.Updates) == 1 })
	st := engineState(t, r.e)
	u := st.Life.Published()
	if u.By != "sam" || u.Approver != "rosa" || st.Life.Component("claims") != incident.ComponentDegraded {
		t.Fatalf("published %+v", u)
	}

	// Both destinations show it.
	eventually(t, "Statuspage to hold it", func() bool {
		in := r.sp.Incidents()
		return len(in) == 1 && len(in[0].IncidentUpdates) == 1 && in[0].IncidentUpdates[0].Body == u.Draft.Body
	})
	if c := r.sp.Components()[0]; c.Status != "degraded_performance" {
		t.Fatalf("Statuspage component %+v", c)
	}
	html, err := r.pg.View().RenderHTML()
	if err != nil || !strings.Contains(string(html), "We are investigating slow claims.") || !strings.Contains(string(html), "degraded performance") {
		t.Fatalf("built-in page: %v\n%s", err, html)
	}
	waitScreen(t, sam, "statuspage ✓", "page ✓", "sam/rosa")
	// The countdown starts again: every 30 minutes now.
	waitScreen(t, rosa, "update in 30:00")
	waitScreen(t, sam, "update in 30:00")
	_ = finalScreen(t, sam)
	_ = finalScreen(t, rosa)
}

// TestFlowOverdueTurnsTheHeaderRed: past the due time the engine records
// one OVERDUE event for the comms role, and the header of the comms role
// and the commander shows it in the crit colour; an observer sees no
// countdown.
func TestFlowOverdueTurnsTheHeaderRed(t *testing.T) {
	r := startCommsRoom(t)
	sam := startCommsTUI(t, r.e, "sam", colorprofile.TrueColor)
	olly := startCommsTUI(t, r.e, "ollie", colorprofile.ASCII)
	if rep := r.e.Do(context.Background(), incident.SetStatus{By: "rosa", Status: incident.StatusInvestigating}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	waitScreen(t, sam, "update in 10:00")
	r.clk.Advance(10*time.Minute + 5*time.Second)
	eventually(t, "the OVERDUE event", func() bool {
		for _, e := range engineState(t, r.e).Recent {
			if e.Kind == incident.KindOverdue && e.Life.To == "sam" {
				return true
			}
		}
		return false
	})
	waitScreen(t, sam, "UPDATE OVERDUE 0:05", "The public update is overdue by 0:05")
	// The badge is drawn in the crit colour (the palette's Crit).
	crit := NewStyles(true, false).Badge[sevCrit].S(" UPDATE OVERDUE 0:05 ")
	eventually(t, "the red badge", func() bool {
		ch := make(chan string, 1)
		sam.Send(rawProbe{reply: ch})
		return strings.Contains(<-ch, crit)
	})
	r.clk.Advance(time.Minute)
	time.Sleep(50 * time.Millisecond)
	n := 0
	for _, e := range engineState(t, r.e).Recent {
		if e.Kind == incident.KindOverdue {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d OVERDUE events for one lapse", n)
	}
	if s := screen(t, olly); strings.Contains(s, "UPDATE OVERDUE") || strings.Contains(s, "update in") {
		t.Fatalf("an observer sees the countdown:\n%s", s)
	}
	_ = finalScreen(t, sam)
	_ = finalScreen(t, olly)
}

// rawProbe reads the screen with its colours.
type rawProbe struct{ reply chan string }
