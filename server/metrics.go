package server

import (
	"github.com/prometheus/client_golang/prometheus"
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
	sch := c.s.r.Sources
	if sch == nil {
		return
	}
	for id, st := range sch.Health() {
		v := 0.0
		if st.Health == "up" {
			v = 1
		}
		h := st.Health
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
