package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/tui"
)

// dashboard is how a dashboard in this process shows the room.
type dashboard struct {
	// ends, when it is closed, ends the room's story (the demo): finish
	// stops the room and sums it up, and the dashboard shows the summary
	// until the person quits.
	ends   <-chan struct{}
	finish func() tui.EndMsg
	// quiet turns the terminal's bell and desktop notifications off.
	quiet bool
	// statusURL is the room's public status page, when it serves one.
	statusURL string
	// undoFirstFrame leaves the terminal as it was when the dashboard does
	// not start after paintFirstFrame drew on it.
	undoFirstFrame func()
}

// runDashboard shows the room in this terminal as handle (default: the
// commander) until the person quits or the engine stops. The room lives
// in this process: quitting stops it, and the dashboard says so.
//
// open opens the room (or returns one already open) and fills in what
// of d depends on it. The program starts
// at once and shows the war-room file's layout while open runs, so that
// the terminal setup and the renderer's first frame timer (bubbletea
// draws a program's first frame only 1/FPS after it starts) overlap the
// journal's replay and the first polls instead of following them. The
// room open returns it with an error from open as is (the caller says
// what it was); a room that opened is returned to be closed by the caller.
func runDashboard(ctx context.Context, cfg *config.Config, handle string, open func(*dashboard) (*room.Room, error), d dashboard) (*room.Room, error) {
	if handle == "" {
		handle = cfg.Roles.Commander
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := tui.Options{Handle: handle, Context: ctx, OwnsRoom: true, Via: "local",
		Quiet: d.quiet, Term: os.Getenv("TERM")}
	p := tea.NewProgram(&opening{cfg: cfg, handle: handle}, tui.ProgramOptions(base)...)
	var r *room.Room
	var openErr error
	opened := make(chan struct{})
	go func() {
		defer close(opened)
		if r, openErr = open(&d); openErr != nil {
			p.Send(openFailedMsg{})
			return
		}
		if _, ok := r.Engine.Roster().Get(handle); !ok {
			openErr = usageErr(errors.New("--as " + handle + ": not on the roster"))
			p.Send(openFailedMsg{})
			return
		}
		opts := roomOptions(base, r)
		opts.StatusPageURL = d.statusURL
		p.Send(openedMsg{m: tui.New(opts)})
	}()
	go func() {
		<-opened
		if openErr != nil {
			return
		}
		select {
		case <-d.ends:
			p.Send(d.finish())
		case <-r.Done():
			p.Quit()
		case <-ctx.Done():
		}
	}()
	_, err := p.Run()
	// A room still opening when the person quit is waited for, so that
	// the caller closes it.
	<-opened
	if openErr != nil {
		if d.undoFirstFrame != nil {
			d.undoFirstFrame()
		}
		return r, openErr // r: opened, but not for this handle
	}
	if eerr := r.Engine.Err(); eerr != nil {
		return r, runtimeErr(eerr)
	}
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		return r, runtimeErr(err)
	}
	return r, nil
}

// needTerminal refuses to start a dashboard without a terminal before
// anything opens (bubbletea would fail only once the room ran, with "could
// not open TTY"); alt names what works without one.
func needTerminal(alt string) error {
	if term.IsTerminal(os.Stdin.Fd()) {
		return nil
	}
	f, err := os.Open("/dev/tty")
	if err != nil {
		return usageErr(fmt.Errorf("the dashboard needs a terminal, and this process has none (%v): %s", err, alt))
	}
	f.Close()
	return nil
}

// isOpen is the open function of a room that is open already.
func isOpen(r *room.Room) func(*dashboard) (*room.Room, error) {
	return func(*dashboard) (*room.Room, error) { return r, nil }
}

// roomOptions are base with what the room provides: its engine,
// playbooks, journal and the status of the leader's parts.
func roomOptions(base tui.Options, r *room.Room) tui.Options {
	opts := base
	opts.Engine, opts.Playbooks, opts.JournalPath, opts.Launch = r.Engine, r.Playbooks(), r.Journal.Path(), r.LaunchHooks()
	if l := r.Lead(); l != nil && l.Mirror != nil {
		opts.MirrorStatus = r.MirrorStatus
	}
	if l := r.Lead(); l != nil && l.Sources != nil {
		opts.SourceBudgets = r.SourceBudgets
	}
	if l := r.Lead(); l != nil && l.Publisher != nil {
		opts.PublisherStatus = r.PublisherStatus
	}
	if l := r.Lead(); l != nil && l.Pager != nil {
		opts.PagingStatus = r.PagingStatus
	}
	return opts
}

// opening is the program's model until the room is open: it shows the
// war-room file's layout (what paintFirstFrame drew), keeps the messages
// the terminal sends at start (size, colour profile, environment, mode
// reports) and then hands them and everything after to the dashboard.
// Keys pressed before then are dropped, except ctrl+c, which quits.
type opening struct {
	cfg     *config.Config
	handle  string
	inner   tea.Model
	early   []tea.Msg
	w, h    int
	profile colorprofile.Profile
	preview string // the layout at w×h
}

// openedMsg carries the dashboard's model once the room is open.
type openedMsg struct{ m tea.Model }

// openFailedMsg ends the program: the room did not open (runDashboard
// returns why).
type openFailedMsg struct{}

// maxEarly bounds the messages kept before the room opens.
const maxEarly = 32

func (o *opening) Init() tea.Cmd { return nil }

func (o *opening) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if o.inner != nil {
		var cmd tea.Cmd
		o.inner, cmd = o.inner.Update(msg)
		return o, cmd
	}
	switch msg := msg.(type) {
	case openedMsg:
		o.inner = msg.m
		cmds := []tea.Cmd{o.inner.Init()}
		for _, m := range o.early {
			var cmd tea.Cmd
			o.inner, cmd = o.inner.Update(m)
			cmds = append(cmds, cmd)
		}
		o.early = nil
		return o, tea.Batch(cmds...)
	case openFailedMsg:
		return o, tea.Quit
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			return o, tea.Quit
		}
		return o, nil
	case tea.KeyReleaseMsg, tea.MouseMsg, tea.PasteMsg:
		return o, nil
	case tea.WindowSizeMsg:
		o.w, o.h, o.preview = msg.Width, msg.Height, ""
	case tea.ColorProfileMsg:
		o.profile, o.preview = msg.Profile, ""
	}
	if len(o.early) < maxEarly {
		o.early = append(o.early, msg)
	}
	return o, nil
}

func (o *opening) View() tea.View {
	if o.inner != nil {
		return o.inner.View()
	}
	if o.preview == "" && o.w > 0 && o.h > 0 {
		o.preview = tui.Preview(o.cfg, o.handle, o.w, o.h, o.profile)
	}
	v := tea.NewView(o.preview)
	v.AltScreen = true
	return v
}
