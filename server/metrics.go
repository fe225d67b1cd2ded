package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/mirror"
	"github.com/warroom/warroom/outbox"
)

type metrics struct {
	reg *prometheus.Registry
}

// newMetrics registers the server's own metrics (no process or Go
// collectors: this registry describes the room).
func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warroom_events_committed", Help: "Sequence number of the last event committed to the journal."},
			func() float64 { return float64(s.r.Journal.LastSeq()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warroom_engine_up", Help: "1 while the incident engine runs."},
			func() float64 {
				select {
				case <-s.r.Done():
					return 0
				default:
					return 1
				}
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warroom_ssh_sessions", Help: "Open SSH sessions."},
			func() float64 { return float64(s.sessions.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warroom_journal_storage_ok", Help: "1 while the journal writes normally, 0 when its disk is low (samples are shed) or writes fail."},
			func() float64 {
				if s.r.Journal.Health().OK() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warroom_journal_free_bytes", Help: "Free space on the journal's file system."},
			func() float64 { return float64(s.r.Journal.Health().Free) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warroom_journal_samples_shed_total", Help: "Samples not recorded to keep room for events."},
			func() float64 { return float64(s.r.Journal.Health().SamplesDropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warroom_journal_failed_writes_total", Help: "Journal writes that failed."},
			func() float64 { return float64(s.r.Journal.Health().FailedWrites) }),
		sourceCollector{s},
		outboxCollector{s},
		clusterCollector{s},
	)
	if s.o.MirrorLag != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warroom_mirror_lag_seconds", Help: "How far the Slack mirror is behind the journal."},
			func() float64 { return s.o.MirrorLag().Seconds() }))
	}
	return &metrics{reg: reg}
}

var (
	descSourceUp = prometheus.NewDesc("warroom_source_up", "1 when the source's health is up, 0 otherwise (degraded, down, rate-limited or not polled yet).",
		[]string{"source", "health"}, nil)
	descQueryPolls  = prometheus.NewDesc("warroom_source_query_polls_total", "Finished polls of a source query.", []string{"source", "query"}, nil)
	descQueryErrors = prometheus.NewDesc("warroom_source_query_errors_total", "Failed polls of a source query.", []string{"source", "query"}, nil)
	descQueryFails  = prometheus.NewDesc("warroom_source_query_consecutive_failures", "Consecutive failures of a source query.", []string{"source", "query"}, nil)

	budgetLabels          = []string{"source", "bucket", "name"}
	descBudgetRemaining   = prometheus.NewDesc("warroom_source_ratelimit_remaining", "Requests left in the source's rate-limit bucket this period, as its last answer said (X-RateLimit-Remaining).", budgetLabels, nil)
	descBudgetLimit       = prometheus.NewDesc("warroom_source_ratelimit_limit", "Requests allowed per period in the bucket (X-RateLimit-Limit).", budgetLabels, nil)
	descBudgetPeriod      = prometheus.NewDesc("warroom_source_ratelimit_period_seconds", "Length of the bucket's period (X-RateLimit-Period).", budgetLabels, nil)
	descBudgetReset       = prometheus.NewDesc("warroom_source_ratelimit_reset_seconds", "Seconds until the bucket's period ends.", budgetLabels, nil)
	descBudgetPollSeconds = prometheus.NewDesc("warroom_source_ratelimit_poll_every_seconds", "How often the bucket's queries poll while paced to make the budget last until the reset; 0 at their intervals.", budgetLabels, nil)
)

// sourceCollector reads the scheduler's health at scrape time. The
// scheduler does not expose poll latency, so none is exported.
type sourceCollector struct{ s *Server }

func (sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSourceUp
	ch <- descQueryPolls
	ch <- descQueryErrors
	ch <- descQueryFails
	ch <- descBudgetRemaining
	ch <- descBudgetLimit
	ch <- descBudgetPeriod
	ch <- descBudgetReset
	ch <- descBudgetPollSeconds
}

func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.s.r.Lead()
	if l == nil || l.Sources == nil {
		return // a standby: the leader polls
	}
	sch := l.Sources
	for id, st := range sch.Health() {
		v := 0.0
		if st.Health == incident.SourceUp {
			v = 1
		}
		h := string(st.Health)
		if h == "" {
			h = "unknown"
		}
		ch <- prometheus.MustNewConstMetric(descSourceUp, prometheus.GaugeValue, v, id, h)
		for _, b := range st.Budgets {
			l := []string{id, b.Bucket, b.Name}
			ch <- prometheus.MustNewConstMetric(descBudgetRemaining, prometheus.GaugeValue, float64(b.Remaining), l...)
			ch <- prometheus.MustNewConstMetric(descBudgetLimit, prometheus.GaugeValue, float64(b.Limit), l...)
			ch <- prometheus.MustNewConstMetric(descBudgetPeriod, prometheus.GaugeValue, b.Period.Seconds(), l...)
			ch <- prometheus.MustNewConstMetric(descBudgetReset, prometheus.GaugeValue, b.ResetIn.Seconds(), l...)
			ch <- prometheus.MustNewConstMetric(descBudgetPollSeconds, prometheus.GaugeValue, b.Every.Seconds(), l...)
		}
	}
	for _, q := range sch.Queries() {
		ch <- prometheus.MustNewConstMetric(descQueryPolls, prometheus.CounterValue, float64(q.Polls), q.Source, q.Name)
		ch <- prometheus.MustNewConstMetric(descQueryErrors, prometheus.CounterValue, float64(q.Errors), q.Source, q.Name)
		ch <- prometheus.MustNewConstMetric(descQueryFails, prometheus.GaugeValue, float64(q.Failures), q.Source, q.Name)
	}
}

var (
	outboxLabels     = []string{"dest"}
	descOutboxUp     = prometheus.NewDesc("warroom_outbox_up", "1 while a destination outside the room delivers normally; 0 while rate-limited, retrying, checking a lost answer or stopped (state says which).", []string{"dest", "state"}, nil)
	descOutboxQueued = prometheus.NewDesc("warroom_outbox_queued", "Effects queued for a destination and not yet delivered (Slack: messages).", outboxLabels, nil)
	descOutboxUncert = prometheus.NewDesc("warroom_outbox_uncertain", "Effects whose answer was lost; the destination is asked before anything is sent again.", outboxLabels, nil)
	descOutboxFailed = prometheus.NewDesc("warroom_outbox_failed_total", "Effects the destination refused since start.", outboxLabels, nil)
	descOutboxLag    = prometheus.NewDesc("warroom_outbox_lag_seconds", "How long the oldest queued effect has waited (Statuspage, PagerDuty).", outboxLabels, nil)
)

// outboxCollector reports every destination outside the room: the
// Statuspage publisher's and the Pager's outboxes, and the Slack mirror.
type outboxCollector struct{ s *Server }

func (outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutboxUp, descOutboxQueued, descOutboxUncert, descOutboxFailed, descOutboxLag} {
		ch <- d
	}
}

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	up := func(dest, state string, ok bool) {
		v := 0.0
		if ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descOutboxUp, prometheus.GaugeValue, v, dest, state)
	}
	l := c.s.r.Lead()
	if l == nil {
		return // a standby: the leader delivers
	}
	var dests []outbox.Status
	if p := l.Publisher; p != nil {
		dests = append(dests, p.Status())
	}
	if p := l.Pager; p != nil {
		dests = append(dests, p.Status())
	}
	for _, st := range dests {
		up(st.Dest, st.State, st.State == outbox.StateOK)
		ch <- prometheus.MustNewConstMetric(descOutboxQueued, prometheus.GaugeValue, float64(st.Queued), st.Dest)
		ch <- prometheus.MustNewConstMetric(descOutboxUncert, prometheus.GaugeValue, float64(st.Uncertain), st.Dest)
		ch <- prometheus.MustNewConstMetric(descOutboxFailed, prometheus.CounterValue, float64(st.Failed), st.Dest)
		ch <- prometheus.MustNewConstMetric(descOutboxLag, prometheus.GaugeValue, st.Lag(c.s.r.Engine.Clock().Now()).Seconds(), st.Dest)
	}
	if m := l.Mirror; m != nil {
		st := m.Status()
		up("slack", st.State, st.State == mirror.StateOK)
		ch <- prometheus.MustNewConstMetric(descOutboxQueued, prometheus.GaugeValue, float64(st.Pending), "slack")
		ch <- prometheus.MustNewConstMetric(descOutboxUncert, prometheus.GaugeValue, float64(st.Uncertain), "slack")
	}
}

var (
	descRole = prometheus.NewDesc("warroom_role", "1 for this process's role in its room: leader, standby or stepping down (a room of one process is always leader).",
		[]string{"node", "role"}, nil)
	descLeaderTerm  = prometheus.NewDesc("warroom_leader_term", "The room's current leader term: it grows by one at every failover or restart of the leader (shared rooms).", nil, nil)
	descTermsLed    = prometheus.NewDesc("warroom_terms_led_total", "Terms this process has led, the first included (shared rooms).", nil, nil)
	descFollowerLag = prometheus.NewDesc("warroom_follower_lag_seconds", "How long this standby has been behind the leader's log (0 when caught up, and on the leader).", nil, nil)
	descBehind      = prometheus.NewDesc("warroom_follower_behind_events", "Events the leader committed that this standby has not folded yet.", nil, nil)
	descCommit      = prometheus.NewDesc("warroom_journal_commit_seconds", "Time to commit one group of events durably (the engine's appends), on this process while it leads.", nil, nil)
)

// clusterCollector reports the process's role in its room, the follower
// lag and the commit latency.
type clusterCollector struct{ s *Server }

func (clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRole, descLeaderTerm, descTermsLed, descFollowerLag, descBehind, descCommit} {
		ch <- d
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	eng := c.s.r.Engine
	ci := eng.Cluster()
	node, role := ci.Node, string(ci.Role)
	if !ci.Shared() {
		role = string(incident.RoleLeader)
	}
	ch <- prometheus.MustNewConstMetric(descRole, prometheus.GaugeValue, 1, node, role)
	if ci.Shared() {
		ch <- prometheus.MustNewConstMetric(descLeaderTerm, prometheus.GaugeValue, float64(ci.Term))
		ch <- prometheus.MustNewConstMetric(descTermsLed, prometheus.CounterValue, float64(ci.Terms))
	}
	ch <- prometheus.MustNewConstMetric(descFollowerLag, prometheus.GaugeValue, ci.Lag.Seconds())
	ch <- prometheus.MustNewConstMetric(descBehind, prometheus.GaugeValue, float64(ci.Behind))
	cl := eng.CommitLatency()
	buckets := make(map[float64]uint64, len(cl.Bounds))
	for i, b := range cl.Bounds {
		buckets[b.Seconds()] = cl.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(descCommit, cl.Count, cl.Sum.Seconds(), buckets)
}
