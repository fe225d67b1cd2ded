package tui

import (
	"context"
	"errors"

	"github.com/charmbracelet/colorprofile"
	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// Preview is the dashboard's first frame for the war-room file, before
// its room is open: the overview's layout with every pane waiting for its
// first answer, as a program of this model draws it until the snapshot
// arrives. A terminal can show it while the journal is replayed and the
// sources start. It reads nothing but the file's time zone.
func Preview(cfg *config.Config, handle string, width, height int, profile colorprofile.Profile) string {
	m := New(Options{Engine: previewEngine{cfg: cfg}, Handle: handle, Width: width, Height: height, Profile: profile, NoTick: true})
	return m.View().Content
}

// previewEngine answers what a model reads when it is built; it has no
// room behind it.
type previewEngine struct{ cfg *config.Config }

var errPreview = errors.New("a preview has no engine")

func (p previewEngine) Do(context.Context, incident.Command) incident.Reply {
	return incident.Reply{Err: errPreview}
}
func (p previewEngine) Subscribe(context.Context, int) (*incident.State, *incident.Subscription, error) {
	return nil, nil, errPreview
}
func (p previewEngine) Unsubscribe(*incident.Subscription) {}
func (p previewEngine) Roster() *roles.Roster              { return roles.NewRoster(p.cfg.Roster) }
func (p previewEngine) Config() *config.Config             { return p.cfg }
func (p previewEngine) Clock() clock.Clock                 { return clock.Real{} }
