package main

import (
	"context"
	"errors"
	"os"

	tea "charm.land/bubbletea/v2"
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
func runDashboard(ctx context.Context, r *room.Room, handle string, d dashboard) error {
	if handle == "" {
		handle = r.Config.Roles.Commander
	}
	if _, ok := r.Engine.Roster().Get(handle); !ok {
		if d.undoFirstFrame != nil {
			d.undoFirstFrame()
		}
		return usageErr(errors.New("--as " + handle + ": not on the roster"))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := tui.Options{Engine: r.Engine, Handle: handle, Context: ctx, Playbooks: r.Playbooks(),
		OwnsRoom: true, Via: "local", JournalPath: r.Journal.Path(), Launch: r.LaunchHooks(),
		Quiet: d.quiet, Term: os.Getenv("TERM")}
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
	opts.StatusPageURL = d.statusURL
	p := tea.NewProgram(tui.New(opts), tui.ProgramOptions(opts)...)
	go func() {
		select {
		case <-d.ends:
			p.Send(d.finish())
		case <-r.Done():
			p.Quit()
		case <-ctx.Done():
		}
	}()
	_, err := p.Run()
	if eerr := r.Engine.Err(); eerr != nil {
		return runtimeErr(eerr)
	}
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		return runtimeErr(err)
	}
	return nil
}
