package demo

import (
	"context"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
)

// rehearsal is the staging load test the airdrop team ran days before
// T-0 (the wallet story: ramps to 30K req/s), as k6 would have summarised
// it, in base units: seconds, req/s, a fraction.
var rehearsal = map[string]float64{"p50": 0.14, "p90": 0.26, "p95": 0.32, "p99": 0.48, "max": 1.9, "mean": 0.17,
	"rps": 30800, "error_rate": 0.0004, "requests": 30800 * 600}

// importRehearsal imports the rehearsal's result for the plan's load-test
// criteria that draw an expected curve and have no result yet, so that
// after T-0 the panes show what the load test said, beside the baseline.
// Someone with a role other than the human brings it in.
func (d *Demo) importRehearsal(ctx context.Context, snap *incident.State) {
	plan := d.Room.Engine.Config().Launch
	if plan == nil {
		return
	}
	cfg := d.Room.Engine.Config()
	by := cfg.Roles.Deputy
	if !d.sim(by) {
		by = cfg.Roles.Commander
	}
	if !d.sim(by) {
		return
	}
	for _, c := range plan.Criteria {
		if c.Kind() != config.KindLoadTest || len(c.Expect) == 0 || snap.Launch.Criterion(c.ID).Result != nil {
			continue
		}
		d.Room.Engine.Do(ctx, incident.SubmitEvidence{By: by, Criterion: c.ID, Tool: "k6", File: "staging-30k.json", Metrics: rehearsal})
	}
}
