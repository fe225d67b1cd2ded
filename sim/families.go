package sim

import (
	"maps"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metricKind int

const (
	kindGauge metricKind = iota
	kindCounter
	kindHistogram
	kindSummary
)

// point is one labelled value of a family (for histograms and summaries,
// one label set with its buckets or quantiles).
type point struct {
	labels    []string // values, in the family's label order
	value     float64
	buckets   map[float64]uint64
	quantiles map[float64]float64
	count     uint64
	sum       float64
}

// family is one metric family as exposed on /metrics.
type family struct {
	name   string
	help   string
	kind   metricKind
	labels []string
	points []point
}

func gauge(name, help string, labels []string, pts ...point) family {
	return family{name: name, help: help, kind: kindGauge, labels: labels, points: pts}
}

func counter(name, help string, labels []string, pts ...point) family {
	return family{name: name, help: help, kind: kindCounter, labels: labels, points: pts}
}

func pt(v float64, labels ...string) point { return point{labels: labels, value: v} }

// families renders a snapshot as the metric families of /metrics. The same
// families answer plain selector queries on the query API.
func families(s *Snapshot) []family {
	c := &s.c
	var fs []family

	codes := []string{"200", "500", "503", "504"}
	req := counter("http_requests_total", "HTTP requests served by the launch API, by service and status code.", []string{"service", "code"})
	hist := family{name: "http_request_duration_seconds", help: "Latency of HTTP requests served by the launch API.", kind: kindHistogram, labels: []string{"service"}}
	thr := counter("aws_lambda_throttles_total", "Lambda invocations throttled (reserved concurrency exhausted).", []string{"function_name"})
	inv := counter("aws_lambda_invocations_total", "Lambda invocations.", []string{"function_name"})
	conc := gauge("aws_lambda_concurrent_executions", "Lambda concurrent executions.", []string{"function_name"})
	res := gauge("aws_lambda_reserved_concurrency", "Lambda reserved concurrency in effect.", []string{"function_name"})
	for i, n := range ServiceNames {
		for j, code := range codes {
			// A labelled series exists once it was first incremented.
			if c.req[i][j] > 0 {
				req.points = append(req.points, pt(c.req[i][j], n, code))
			}
		}
		b := map[float64]uint64{}
		for k, le := range latencyBuckets {
			b[le] = uint64(c.hist[i][k])
		}
		hist.points = append(hist.points, point{labels: []string{n}, buckets: b, count: uint64(c.histCount[i]), sum: c.histSum[i]})
		thr.points = append(thr.points, pt(c.throttles[i], n))
		inv.points = append(inv.points, pt(c.invokes[i], n))
		conc.points = append(conc.points, pt(s.Lambda[i].Concurrent, n))
		res.points = append(res.points, pt(s.Lambda[i].Reserved, n))
	}
	fs = append(fs, req, hist, thr, inv, conc, res)

	fs = append(fs,
		gauge("pg_stat_activity_count", "Database sessions by state.", []string{"datname", "state"},
			pt(s.DB.Active, "allium", "active"), pt(s.DB.Idle, "allium", "idle")),
		gauge("pg_settings_max_connections", "Database max_connections.", []string{"server"}, pt(s.DB.Max, "allium")),
		counter("aws_natgateway_error_port_allocation_total", "NAT gateway ErrorPortAllocation.", []string{"nat_gateway_id"},
			pt(c.natErrors, natGatewayID)),
		gauge("aws_natgateway_port_demand", "Source ports the NAT gateway's traffic needs.", []string{"nat_gateway_id"},
			pt(s.NAT.PortDemand, natGatewayID)),
		gauge("aws_natgateway_port_capacity", "Source ports available (55,000 per elastic IP).", []string{"nat_gateway_id"},
			pt(s.NAT.Ports, natGatewayID)),
	)

	cf := counter("cloudflare_requests_total", "Requests at the Cloudflare edge by client kind and WAF action.", []string{"client", "action"})
	for i, client := range []string{"human", "bot"} {
		for j, action := range []string{"allowed", "challenged", "blocked"} {
			cf.points = append(cf.points, pt(c.cf[i][j], client, action))
		}
	}
	mode := gauge("cloudflare_waf_mode", "Cloudflare WAF mode in effect (1 for the current mode).", []string{"mode"})
	for _, m := range wafModes {
		v := 0.0
		if m == s.WAF.Mode {
			v = 1
		}
		mode.points = append(mode.points, pt(v, m))
	}
	fs = append(fs, cf, mode)

	rpcReq := counter("rpc_requests_total", "Solana RPC calls sent to each provider, by HTTP status.", []string{"provider", "code"})
	rpcDur := family{name: "rpc_request_duration_seconds", help: "Solana RPC call latency by provider.", kind: kindSummary, labels: []string{"provider"}}
	slot := gauge("solana_slot", "Slot reported by each provider.", []string{"provider", "commitment"})
	lag := gauge("solana_provider_slot_lag", "Slots a provider trails the best provider (processed).", []string{"provider"})
	split := gauge("rpc_traffic_split_percent", "Share of RPC traffic sent to each provider.", []string{"provider"})
	for i, p := range s.RPC {
		rpcReq.points = append(rpcReq.points, pt(c.rpc[i][0], p.Name, "200"), pt(c.rpc[i][1], p.Name, "429"))
		rpcDur.points = append(rpcDur.points, point{labels: []string{p.Name},
			quantiles: map[float64]float64{0.5: p.P50, 0.95: p.P95}, count: uint64(c.rpc[i][0]), sum: c.rpcSum[i]})
		for _, cm := range commitments {
			slot.points = append(slot.points, pt(float64(commitmentSlot(p.Slot, cm)), p.Name, cm))
		}
		lag.points = append(lag.points, pt(float64(p.Lag), p.Name))
		split.points = append(split.points, pt(p.SplitPct, p.Name))
	}
	fs = append(fs, rpcReq, rpcDur, slot, lag, split)

	fs = append(fs,
		gauge("solana_priority_fee_microlamports", "Recent prioritization fees on the network (micro-lamports per CU).", []string{"quantile"},
			pt(s.Fees.MarketP50, "0.5"), pt(s.Fees.MarketP75, "0.75")),
		gauge("wallet_priority_fee_microlamports", "Priority fee the wallet backend sets on its own transactions.", nil, pt(s.Fees.Setting)),
		counter("wallet_tx_submitted_total", "Wallet transactions submitted.", nil, pt(c.txSent)),
		counter("wallet_tx_landed_total", "Wallet transactions that landed.", nil, pt(c.txLanded)),
		family{name: "blowfish_simulation_duration_seconds", help: "Blowfish transaction simulation latency.", kind: kindSummary,
			points: []point{{quantiles: map[float64]float64{0.5: s.Blowfish.P95 / 2, 0.95: s.Blowfish.P95}, count: uint64(c.blowfish), sum: c.blowfishDu}}},
		gauge("warroom_sim_scenario_minute", "Scenario minutes since T-0.", nil, pt(s.Minute)),
	)
	return fs
}

const natGatewayID = "nat-0a1b2c3d4e5f60718"

var commitments = []string{"processed", "confirmed", "finalized"}

func commitmentSlot(processed uint64, commitment string) uint64 {
	var off uint64
	switch commitment {
	case "confirmed":
		off = 2
	case "finalized":
		off = 32
	}
	return processed - min(processed, off)
}

// flatSample is one series of the text exposition.
type flatSample struct {
	labels map[string]string // including __name__
	value  float64
}

func labelMap(name string, names, values []string) map[string]string {
	m := make(map[string]string, len(names)+1)
	m["__name__"] = name
	for i, n := range names {
		m[n] = values[i]
	}
	return m
}

// flatten lists the series of a family as the exposition names them.
func (f *family) flatten() []flatSample {
	var out []flatSample
	for _, p := range f.points {
		switch f.kind {
		case kindGauge, kindCounter:
			out = append(out, flatSample{labelMap(f.name, f.labels, p.labels), p.value})
		case kindHistogram:
			for _, le := range slices.Sorted(maps.Keys(p.buckets)) {
				m := labelMap(f.name+"_bucket", f.labels, p.labels)
				m["le"] = strconv.FormatFloat(le, 'g', -1, 64)
				out = append(out, flatSample{m, float64(p.buckets[le])})
			}
			m := labelMap(f.name+"_bucket", f.labels, p.labels)
			m["le"] = "+Inf"
			out = append(out, flatSample{m, float64(p.count)},
				flatSample{labelMap(f.name+"_count", f.labels, p.labels), float64(p.count)},
				flatSample{labelMap(f.name+"_sum", f.labels, p.labels), p.sum})
		case kindSummary:
			for _, q := range slices.Sorted(maps.Keys(p.quantiles)) {
				m := labelMap(f.name, f.labels, p.labels)
				m["quantile"] = strconv.FormatFloat(q, 'g', -1, 64)
				out = append(out, flatSample{m, p.quantiles[q]})
			}
			out = append(out,
				flatSample{labelMap(f.name+"_count", f.labels, p.labels), float64(p.count)},
				flatSample{labelMap(f.name+"_sum", f.labels, p.labels), p.sum})
		}
	}
	return out
}

// collector exposes the world at scrape time through a client_golang registry.
type collector struct{ w *World }

// Describe sends nothing: the collector is unchecked (its families are
// fixed, but built per scrape from the model).
func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.w.Sample(c.w.Now())
	for _, f := range families(&s) {
		desc := prometheus.NewDesc(f.name, f.help, f.labels, nil)
		for _, p := range f.points {
			switch f.kind {
			case kindGauge:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, p.value, p.labels...)
			case kindCounter:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, p.value, p.labels...)
			case kindHistogram:
				ch <- prometheus.MustNewConstHistogram(desc, p.count, p.sum, p.buckets, p.labels...)
			case kindSummary:
				ch <- prometheus.MustNewConstSummary(desc, p.count, p.sum, p.quantiles, p.labels...)
			}
		}
	}
}
