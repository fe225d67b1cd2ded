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
	m := New(Options{Engine: e, Handle: handle, Profile: colorprofile.ASCII, Theme: ThemeDark})
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
	rep := e.Do(context.Background(), incident.Raise{By: "rosa", Service: "tokens", Level: incident.LevelCrit, Text: "p95 latency 2.3s > 1s"})
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
