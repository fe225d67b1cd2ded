package room

import (
	"context"
	"errors"
	"strings"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/launch"
	"github.com/warroom/warroom/playbooks"
	"github.com/warroom/warroom/tui"
)

// Playbooks adapts the room's catalog and runner to the dashboard: the
// palette lists every playbook and opens a parameter form, a dry run and a
// confirmation before it requests the run (the engine checks the
// requester's role, the lock and the approval rules); approvers see the
// waiting run and approve or reject it from the dashboard.
type Playbooks struct {
	r     *Room
	items []tui.Playbook
}

var (
	_ tui.PlaybookStarter = Playbooks{}
	_ tui.PlaybookRunner  = Playbooks{}
	_ tui.RunController   = Playbooks{}
)

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

// StartPlaybook implements tui.PlaybookStarter: a run with the default
// parameters.
func (p Playbooks) StartPlaybook(ctx context.Context, by, name string) error {
	_, err := p.RequestPlaybookRun(ctx, by, name, map[string]string{}, nil)
	return err
}

// runner is the leader's runner, or nil on a standby (whose playbook
// actions are forwarded to the leader).
func (p Playbooks) runner() *playbooks.Runner {
	if l := p.r.Lead(); l != nil {
		return l.Runner
	}
	return nil
}

// RunPolicy implements incident.RunPolicies (part of tui.PlaybookRunner).
func (p Playbooks) RunPolicy(name string) (incident.RunPolicy, bool) {
	return p.r.Catalog.RunPolicy(name)
}

// PlaybookForm is the playbook's parameters for the dashboard's form.
func (p Playbooks) PlaybookForm(name string) ([]tui.ParamField, bool) {
	pb, ok := p.r.Catalog.Get(name)
	if !ok {
		return nil, false
	}
	out := make([]tui.ParamField, 0, len(pb.Params))
	for _, prm := range pb.Params {
		f := tui.ParamField{Name: prm.Name, Type: string(prm.Type), Description: prm.Description,
			Values: append([]string(nil), prm.Values...), Constraint: prm.Describe()}
		if prm.Default != nil {
			f.Default, f.HasDefault = *prm.Default, true
		}
		out = append(out, f)
	}
	return out, true
}

// ValidatePlaybookParams checks the values as ValidateParams does and
// returns the problems by parameter name. It does no I/O.
func (p Playbooks) ValidatePlaybookParams(name string, raw map[string]string) map[string]string {
	pb, ok := p.r.Catalog.Get(name)
	if !ok {
		return map[string]string{"": "no such playbook " + name}
	}
	_, err := pb.ValidateParams(raw)
	return paramProblems(pb, err)
}

func paramProblems(pb *playbooks.Playbook, err error) map[string]string {
	if err == nil {
		return nil
	}
	out := map[string]string{}
	add := func(k, v string) {
		if out[k] != "" {
			v = out[k] + "; " + v
		}
		out[k] = v
	}
	var pe *playbooks.ParamError
	if !errors.As(err, &pe) {
		add("", err.Error())
		return out
	}
	for _, prob := range pe.Problems {
		k, v, found := strings.Cut(prob, ": ")
		known := false
		for _, prm := range pb.Params {
			known = known || prm.Name == k
		}
		if found && known {
			add(k, v)
		} else {
			add("", prob)
		}
	}
	return out
}

// DryRunPlaybook runs the dry run (read-only requests) with the runner's
// transport and the engine's panes.
func (p Playbooks) DryRunPlaybook(ctx context.Context, name string, raw map[string]string) (*tui.DryRunPlan, error) {
	plan, err := p.r.dry.DryRun(ctx, name, raw)
	if err != nil {
		return nil, err
	}
	return &tui.DryRunPlan{Text: plan.Text(), Hash: plan.Hash, Summary: plan.Playbook.Summary(plan.Params), Plan: plan.RunPlan()}, nil
}

// RequestPlaybookRun requests a run with the confirmed parameters; the
// request records the dry run the requester confirmed, for the approvers.
func (p Playbooks) RequestPlaybookRun(ctx context.Context, by, name string, raw map[string]string, plan *tui.DryRunPlan) (string, error) {
	var rp *incident.RunPlan
	var hash string
	if plan != nil {
		rp, hash = plan.Plan, plan.Hash
	}
	if rn := p.runner(); rn != nil {
		h, err := rn.RequestPlanned(ctx, by, name, raw, rp, hash)
		if err != nil {
			return "", err
		}
		return h.ID, nil
	}
	rep := p.r.send(ctx, forwarded{Op: "request", By: by, Playbook: name, Params: raw, Plan: rp, Hash: hash})
	if rep.Err != nil {
		return "", rep.Err
	}
	for _, ev := range rep.Events {
		if ev.Run != nil && ev.Run.State == incident.RunRequested {
			return ev.Run.ID, nil
		}
	}
	return "", errors.New("the leader accepted the request without a run id")
}

// ApproveRun approves a run; hash is the one the approver was shown.
func (p Playbooks) ApproveRun(ctx context.Context, by, runID, hash string) error {
	if rn := p.runner(); rn != nil {
		return rn.Approve(ctx, by, runID, hash)
	}
	return p.r.send(ctx, forwarded{Op: "approve", By: by, RunID: runID, Hash: hash}).Err
}

// RejectRun turns a run request down.
func (p Playbooks) RejectRun(ctx context.Context, by, runID, reason string) error {
	if rn := p.runner(); rn != nil {
		return rn.Reject(ctx, by, runID, reason)
	}
	return p.r.send(ctx, forwarded{Op: "reject", By: by, RunID: runID, Reason: reason}).Err
}

// CancelRun implements tui.RunController.
func (p Playbooks) CancelRun(ctx context.Context, by, runID, reason string) error {
	if rn := p.runner(); rn != nil {
		return rn.Cancel(ctx, by, runID, reason)
	}
	return p.r.send(ctx, forwarded{Op: "cancel", By: by, RunID: runID, Reason: reason}).Err
}

// ResolveRun implements tui.RunController: the commander's choice for an
// interrupted run; the runner carries it out in the background.
func (p Playbooks) ResolveRun(ctx context.Context, by, runID string, choice incident.ResolveChoice, reason string) error {
	if rn := p.runner(); rn != nil {
		_, err := rn.Resolve(ctx, by, runID, choice, reason)
		return err
	}
	return p.r.send(ctx, forwarded{Op: "resolve", By: by, RunID: runID, Choice: string(choice), Reason: reason}).Err
}

// LaunchHooks are the Launch view's I/O: the live preflight of this room
// (the checks of check --live) and reading k6 or vegeta result files.
func (r *Room) LaunchHooks() tui.LaunchHooks {
	return tui.LaunchHooks{
		Preflight: func(ctx context.Context) (incident.CheckInfo, error) {
			return launch.Preflight(ctx, r.Config, r.Catalog, launch.PreflightOptions{Now: r.Engine.Clock().Now}).Info(), nil
		},
		ReadLoadTest: func(path string) (tui.LoadTestResult, error) {
			res, err := launch.ReadResult(path)
			if err != nil {
				return tui.LoadTestResult{}, err
			}
			return tui.LoadTestResult{Tool: res.Tool, File: res.File, Metrics: res.Metrics}, nil
		},
	}
}
