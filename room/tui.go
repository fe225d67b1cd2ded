package room

import (
	"context"

	"github.com/warroom/warroom/tui"
)

// Playbooks adapts the room's catalog and runner to the dashboard: the
// palette lists every playbook and starts a run request with its default
// parameters (the engine checks the requester's role, the lock and the
// approval rules; the commander approves from the CLI or the control
// socket until the dashboard has a parameter form).
type Playbooks struct {
	r     *Room
	items []tui.Playbook
}

// Playbooks returns the dashboard's view of the catalog.
func (r *Room) Playbooks() Playbooks {
	p := Playbooks{r: r}
	for _, pb := range r.Catalog.Playbooks() {
		p.items = append(p.items, tui.Playbook{Name: pb.ID, Title: pb.Title, Service: pb.Service, Summary: string(pb.Risk) + " risk"})
	}
	return p
}

// List implements tui.Playbooks; the catalog is fixed for a run.
func (p Playbooks) List() []tui.Playbook { return p.items }

// StartPlaybook implements tui.PlaybookStarter.
func (p Playbooks) StartPlaybook(ctx context.Context, by, name string) error {
	_, err := p.r.Runner.Request(ctx, by, name, map[string]string{})
	return err
}
