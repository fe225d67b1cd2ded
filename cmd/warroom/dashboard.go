package main

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/tui"
)

// runDashboard shows the room in this terminal as handle (default: the
// commander) until the person quits or the engine stops.
func runDashboard(ctx context.Context, r *room.Room, handle string) error {
	if handle == "" {
		handle = r.Config.Roles.Commander
	}
	if _, ok := r.Engine.Roster().Get(handle); !ok {
		return usageErr(errors.New("--as " + handle + ": not on the roster"))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := tui.Options{Engine: r.Engine, Handle: handle, Context: ctx, Playbooks: r.Playbooks()}
	if r.Mirror != nil {
		opts.MirrorStatus = r.MirrorStatus
	}
	p := tea.NewProgram(tui.New(opts), tui.ProgramOptions(opts)...)
	go func() {
		select {
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
