package tui

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/journal"
)

// realEngine runs the incident engine on a temporary journal with a fake
// clock (so its heartbeat never fires on its own).
func realEngine(t *testing.T) *incident.Engine {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := incident.New(incident.Options{Config: fixtureConfig(), Journal: j, Clock: clock.NewFake(tNow)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	t.Cleanup(func() {
		cancel()
		<-e.Done()
		j.Close()
	})
	return e
}

// engineState is a fresh snapshot of the engine's state.
func engineState(t *testing.T, e *incident.Engine) *incident.State {
	t.Helper()
	st, sub, err := e.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	e.Unsubscribe(sub)
	return st
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probed wraps the model so a test can read the screen on the program's
// own goroutine (the model is never touched from the test goroutine).
type probed struct{ m *Model }

type probeMsg struct{ reply chan string }

func (p *probed) Init() tea.Cmd { return p.m.Init() }
func (p *probed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if pm, ok := msg.(probeMsg); ok {
		pm.reply <- ansi.Strip(p.m.View().Content)
		return p, nil
	}
	if pm, ok := msg.(rawProbe); ok {
		pm.reply <- p.m.View().Content
		return p, nil
	}
	_, cmd := p.m.Update(msg)
	return p, cmd
}
func (p *probed) View() tea.View { return p.m.View() }

func screen(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	ch := make(chan string, 1)
	tm.Send(probeMsg{reply: ch})
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("the program did not answer the probe")
		return ""
	}
}

func waitScreen(t *testing.T, tm *teatest.TestModel, want ...string) string {
	t.Helper()
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", last)
		}
	}()
	eventually(t, "screen showing "+strings.Join(want, ", "), func() bool {
		last = screen(t, tm)
		for _, w := range want {
			if !strings.Contains(last, w) {
				return false
			}
		}
		return true
	})
	return last
}

func startTUI(t *testing.T, e *incident.Engine, handle string) *teatest.TestModel {
	t.Helper()
	m := New(Options{Engine: guarded{e}, Handle: handle, Profile: colorprofile.ASCII, Theme: ThemeDark})
	tm := teatest.NewTestModel(t, &probed{m: m}, teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(append(ProgramOptions(Options{FPS: 30}), tea.WithColorProfile(colorprofile.ASCII))...))
	t.Cleanup(func() { _ = tm.Quit() })
	// The first frame reaches the terminal.
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("Tokens")) },
		teatest.WithDuration(5*time.Second))
	return tm
}

func finalScreen(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	tm.Send(kp("ctrl+c"))
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	return ansi.Strip(fm.View().Content)
}

// TestFlowOwnerAcksAlert: the owner of Tokens presses a on the overview;
// the ACK is committed by the engine and the pane then says who acked.
func TestFlowOwnerAcksAlert(t *testing.T) {
	e := realEngine(t)
	rep := e.Do(context.Background(), incidenttest.Firing("tokens", incident.LevelCrit, "p95 latency 2.3s > 1s"))
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	id := rep.Events[0].Alert.ID

	tm := startTUI(t, e, "tomas")
	waitScreen(t, tm, "⚠ 1 unacked", "cmdr rosa")
	tm.Send(kp("a"))
	eventually(t, "the ACK to be committed", func() bool {
		return engineState(t, e).Alerts[id].AckedBy == "tomas"
	})
	waitScreen(t, tm, "✓ acked by tomas")
	st := engineState(t, e)
	last := st.Recent[len(st.Recent)-1]
	if last.Kind != incident.KindAck || last.Actor != "tomas" {
		t.Fatalf("last event %s", last.Line())
	}
	if out := finalScreen(t, tm); !strings.Contains(out, "✓ acked by tomas") {
		t.Fatalf("final screen:\n%s", out)
	}
}

// TestFlowCommandHandoff: the commander offers command from the roles
// view; the offeree's TUI shows the offer banner, they accept, and both
// headers show the new commander.
func TestFlowCommandHandoff(t *testing.T) {
	e := realEngine(t)
	rosa := startTUI(t, e, "rosa")
	tomas := startTUI(t, e, "tomas")

	rosa.Send(kp("4"))
	waitScreen(t, rosa, "Roles", "▶commander")
	rosa.Send(kp("enter"))
	waitScreen(t, rosa, "Offer command to…")
	rosa.Type("tomas")
	waitScreen(t, rosa, "▶ tomas")
	rosa.Send(kp("enter"))
	waitScreen(t, rosa, "After tomas accepts command, you…", "▶ stay on as deputy")
	rosa.Send(kp("enter"))
	eventually(t, "the OFFER to be committed", func() bool {
		o := engineState(t, e).Roles.Offer
		return o != nil && o.To == "tomas"
	})
	waitScreen(t, rosa, "you offered command to tomas")
	waitScreen(t, tomas, "⚑ rosa offers you command of the incident — A accept · D decline")

	tomas.Send(kp("A"))
	eventually(t, "the ACCEPT to be committed", func() bool { return engineState(t, e).Roles.Commander == "tomas" })
	waitScreen(t, tomas, "cmdr tomas", "(commander, owner of tokens)")
	// The old commander stays on as deputy: someone else can approve.
	waitScreen(t, rosa, "cmdr tomas", "(deputy)")
	if d := engineState(t, e).Roles.Deputy; d != "rosa" {
		t.Fatalf("deputy %q after the handoff", d)
	}
	if s := screen(t, tomas); strings.Contains(s, "offers you command") {
		t.Fatalf("the banner should be gone:\n%s", s)
	}
	if out := finalScreen(t, tomas); !strings.Contains(out, "cmdr tomas") {
		t.Fatalf("final screen:\n%s", out)
	}
	_ = finalScreen(t, rosa)
}

// TestFlowAlertsResortXTargetsSelected: the commander selects an alert;
// before x, a crit fires elsewhere and the list re-sorts under the
// cursor; x still resolves the alert that was selected, and only it.
func TestFlowAlertsResortXTargetsSelected(t *testing.T) {
	e := realEngine(t)
	var ids []string
	for _, svc := range []string{"tokens", "history", "banners"} {
		rep := e.Do(context.Background(), incidenttest.Firing(svc, incident.LevelWarn, svc+" looks slow"))
		if rep.Err != nil {
			t.Fatal(rep.Err)
		}
		ids = append(ids, rep.Events[0].Alert.ID)
	}
	tm := startTUI(t, e, "rosa")
	tm.Send(kp("2"))
	waitScreen(t, tm, "Open alerts", "banners looks slow")
	tm.Send(kp("down"))
	tm.Send(kp("down"))
	waitSelected(t, tm, ids[2])
	// A crit on AWS: worst first, so it goes on top and every row moves.
	rep := e.Do(context.Background(), incidenttest.Firing("aws", incident.LevelCrit, "NAT ports exhausted"))
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	crit := rep.Events[0].Alert.ID
	s := waitScreen(t, tm, "NAT ports exhausted")
	if strings.Index(s, crit) > strings.Index(s, ids[0]) {
		t.Fatalf("the crit is not on top:\n%s", s)
	}
	// The row the cursor was on by index is now history's; the cursor is
	// still on banners'.
	waitSelected(t, tm, ids[2])
	tm.Send(kp("x"))
	// Alertmanager still reports it firing: x asks first, about banners'.
	waitScreen(t, tm, "Resolve "+ids[2]+" (")
	tm.Send(kp("y"))
	eventually(t, "the RESOLVE to be committed", func() bool { return !engineState(t, e).Alerts[ids[2]].Open() })
	st := engineState(t, e)
	for _, id := range []string{ids[0], ids[1], crit} {
		if !st.Alerts[id].Open() {
			t.Fatalf("x resolved %s too", id)
		}
	}
	if a := st.Alerts[ids[2]]; a.ResolvedBy != "rosa" {
		t.Fatalf("%s resolved by %q", ids[2], a.ResolvedBy)
	}
	_ = finalScreen(t, tm)
}

// TestFlowTimelineSearch: `/` in the timeline filters as one types and
// finds an event by its text; enter shows it in full, with its author.
func TestFlowTimelineSearch(t *testing.T) {
	e := realEngine(t)
	for _, n := range []struct{ by, text string }{
		{"rosa", "rehearsal peaked at 8K req/s; expect 10x at T-0"},
		{"hana", "DB pool raised from 400 to 800 connections after the exhaustion at T+2m; watching the p95 and the 5xx rate for ten minutes before going further"},
		{"rosa", "WAF to challenge if bots keep climbing"},
	} {
		if err := e.Do(context.Background(), incident.Note{By: n.by, Text: n.text}).Err; err != nil {
			t.Fatal(err)
		}
	}
	tm := startTUI(t, e, "lin")
	tm.Send(kp("3"))
	waitScreen(t, tm, "Timeline", "rehearsal peaked")
	tm.Send(kp("/"))
	tm.Type("pool raised")
	s := waitScreen(t, tm, "text pool raised", "hana  DB pool raised")
	if strings.Contains(s, "rehearsal") || strings.Contains(s, "WAF to challenge") {
		t.Fatalf("the filter let other events through:\n%s", s)
	}
	tm.Send(kp("enter")) // keep the filter, back to the list
	tm.Send(kp("enter")) // the event in full
	waitScreen(t, tm, "NOTE #", "hana (Hana Sato)", "before going further")
	_ = finalScreen(t, tm)
}

// waitSelected waits until the selected row (marked ▶) shows want.
func waitSelected(t *testing.T, tm *teatest.TestModel, want string) {
	t.Helper()
	var last string
	eventually(t, "the selected row showing "+want, func() bool {
		last = screen(t, tm)
		for _, l := range strings.Split(last, "\n") {
			if strings.HasPrefix(l, "▶") {
				return strings.Contains(l, " "+want+" ")
			}
		}
		return false
	})
}
