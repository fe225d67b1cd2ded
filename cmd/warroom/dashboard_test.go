package main

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/config"
)

// recorder is a dashboard model that keeps what it was sent.
type recorder struct {
	inited bool
	got    []tea.Msg
}

func (r *recorder) Init() tea.Cmd { r.inited = true; return nil }
func (r *recorder) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	r.got = append(r.got, msg)
	return r, nil
}
func (r *recorder) View() tea.View { return tea.NewView("the dashboard") }

// TestOpeningShowsTheLayoutThenHandsOver: while the room opens, the
// program shows the war-room file's layout at the terminal's size; keys
// are dropped; once the room is open the dashboard gets the terminal's
// start-up messages, in order, and everything after.
func TestOpeningShowsTheLayoutThenHandsOver(t *testing.T) {
	cfg := &config.Config{Incident: config.Incident{Name: "checkout outage"},
		Services: []config.Service{{ID: "api", Name: "Checkout API", Owner: "maya"}},
		Roster:   []config.Person{{Handle: "maya"}}}
	cfg.Roles.Commander = "maya"
	o := &opening{cfg: cfg, handle: "maya"}
	if v := o.View(); v.Content != "" || !v.AltScreen {
		t.Fatalf("before the size is known: %+v", v)
	}
	size := tea.WindowSizeMsg{Width: 100, Height: 30}
	o.Update(size)
	if _, cmd := o.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd != nil {
		t.Fatal("a key before the room opened did something")
	}
	if v := o.View(); !strings.Contains(v.Content, "Checkout API") || !v.AltScreen {
		t.Fatalf("the layout is not shown:\n%s", v.Content)
	}
	d := &recorder{}
	o.Update(openedMsg{m: d})
	if !d.inited || len(d.got) != 1 || d.got[0] != size {
		t.Fatalf("the dashboard got %v (init %v), want the size only", d.got, d.inited)
	}
	o.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if len(d.got) != 2 || o.View().Content != "the dashboard" {
		t.Fatalf("after the hand-over: %v, %q", d.got, o.View().Content)
	}
}

// TestOpeningQuits: ctrl+c while the room opens quits, and so does a
// room that failed to open.
func TestOpeningQuits(t *testing.T) {
	for _, msg := range []tea.Msg{tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}, openFailedMsg{}} {
		o := &opening{cfg: &config.Config{}}
		_, cmd := o.Update(msg)
		if cmd == nil {
			t.Fatalf("%T: no command", msg)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%T: does not quit", msg)
		}
	}
}
