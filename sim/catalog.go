package sim

import (
	"fmt"
	"strings"
)

// QueryInfo documents one query the simulator answers: what it measures,
// its unit, the warroom service it belongs to and thresholds that match the
// scenario (Direction "below" means low values are bad).
type QueryInfo struct {
	Query       string   `json:"query"`
	Service     string   `json:"service,omitempty"`
	Description string   `json:"description"`
	Unit        string   `json:"unit"`
	Warn        *float64 `json:"warn,omitempty"`
	Crit        *float64 `json:"crit,omitempty"`
	Direction   string   `json:"direction,omitempty"`
}

// series is one labelled result of a query.
type series struct {
	labels map[string]string // Prometheus labels (incl. __name__ for selectors)
	tags   []string          // Datadog group tags
	fn     func(*Snapshot) float64
	// present, when set, says whether the series exists yet: client
	// libraries create a labelled series only when it is first
	// incremented (Prometheus' instrumentation guide, "Avoid missing
	// metrics"), so a 5xx series appears with the first error.
	present func(*Snapshot) bool
}

// hadErrors reports whether service i has answered any 5xx yet.
func hadErrors(i int) func(*Snapshot) bool {
	return func(s *Snapshot) bool { return s.c.req[i][1]+s.c.req[i][2] > 0 }
}

type queryDef struct {
	QueryInfo
	alert  string // Prometheus alert name; empty for none
	series []series
	// late (Datadog): an AWS metric, which Datadog's crawler brings in
	// 10-20 minutes after the fact (see awsCrawl).
	late bool
}

func f64(v float64) *float64 { return &v }

func (q queryDef) th(warn, crit float64) queryDef {
	q.Warn, q.Crit = f64(warn), f64(crit)
	if warn > crit {
		q.Direction = "below"
	} else {
		q.Direction = "above"
	}
	return q
}

func (q queryDef) named(alert string) queryDef { q.alert = alert; return q }

func one(fn func(*Snapshot) float64) []series { return []series{{labels: map[string]string{}, fn: fn}} }

func def(query, service, desc, unit string, ss []series) queryDef {
	return queryDef{QueryInfo: QueryInfo{Query: query, Service: service, Description: desc, Unit: unit}, series: ss}
}

func bySvc(label string, fn func(*Snapshot, int) float64) []series {
	var out []series
	for i, n := range ServiceNames {
		out = append(out, series{labels: map[string]string{label: n}, tags: []string{label + ":" + n},
			fn: func(s *Snapshot) float64 { return fn(s, i) }})
	}
	return out
}

func byProv(label string, fn func(*Snapshot, int) float64) []series {
	var out []series
	for i, n := range ProviderNames {
		out = append(out, series{labels: map[string]string{label: n}, tags: []string{label + ":" + n},
			fn: func(s *Snapshot) float64 { return fn(s, i) }})
	}
	return out
}

func svcRPS(s *Snapshot, i int) float64 { return s.Services[i].RPS }
func svcErrRPS(s *Snapshot, i int) float64 {
	return s.Services[i].RPS * s.Services[i].ErrorPct / 100
}

var promTable = buildPromTable()

func buildPromTable() []queryDef {
	q := []queryDef{
		def(`sum(rate(http_requests_total[1m]))`, "", "requests/s reaching the origin (all services)", "req/s",
			one(func(s *Snapshot) float64 { return s.OriginRPS })),
		def(`sum by (service) (rate(http_requests_total[1m]))`, "", "requests/s per service", "req/s",
			bySvc("service", svcRPS)),
	}
	title := map[string]string{"tokens": "Tokens", "history": "History", "banners": "Banners"}
	for i, n := range ServiceNames {
		q = append(q,
			def(fmt.Sprintf(`sum(rate(http_requests_total{service="%s"}[1m]))`, n), n, n+" requests/s", "req/s",
				one(func(s *Snapshot) float64 { return s.Services[i].RPS })),
			def(fmt.Sprintf(`100 * sum(rate(http_requests_total{service="%s",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="%s"}[1m]))`, n, n),
				n, n+" 5xx responses, percent of requests (no series before the first 5xx)", "%",
				[]series{{labels: map[string]string{}, fn: func(s *Snapshot) float64 { return s.Services[i].ErrorPct }, present: hadErrors(i)}}).th(1, 5).named(title[n]+"High5xxRate"),
			def(fmt.Sprintf(`histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="%s"}[1m])))`, n),
				n, n+" p95 latency", "s",
				one(func(s *Snapshot) float64 { return s.Services[i].P95 })).th(0.5, 1).named(title[n]+"HighLatency"),
		)
	}
	q = append(q,
		def(`sum(pg_stat_activity_count{datname="allium"})`, "tokens",
			"connections used on the shared Allium database (tokens and history), max 500", "conns",
			one(func(s *Snapshot) float64 { return s.DB.Used })).th(400, 475).named("DBConnectionsHigh"),
		def(`sum(pg_stat_activity_count{datname="allium",state="idle"})`, "history",
			"idle sessions held on the Allium database (stuck until terminated)", "conns",
			one(func(s *Snapshot) float64 { return s.DB.Idle })).th(100, 250).named("DBIdleSessionsStuck"),
		def(`100 * sum(pg_stat_activity_count{datname="allium"}) / sum(pg_settings_max_connections{server="allium"})`, "history",
			"Allium database connections used, percent of max_connections", "%",
			one(func(s *Snapshot) float64 { return 100 * s.DB.Saturation })).th(80, 95),
		def(`sum(rate(aws_lambda_throttles_total{function_name="tokens"}[1m]))`, "tokens",
			"tokens Lambda throttles/s (reserved concurrency exhausted)", "/s",
			one(func(s *Snapshot) float64 { return s.Lambda[svcTokens].ThrottlesPerSec })).th(10, 100).named("LambdaThrottling"),
		def(`aws_lambda_concurrent_executions{function_name="tokens"}`, "tokens", "tokens Lambda concurrent executions", "",
			[]series{{labels: map[string]string{"__name__": "aws_lambda_concurrent_executions", "function_name": "tokens"},
				fn: func(s *Snapshot) float64 { return s.Lambda[svcTokens].Concurrent }}}),
		def(`sum(rate(aws_natgateway_error_port_allocation_total[1m]))`, "aws",
			"NAT gateway port allocation errors/s", "/s",
			one(func(s *Snapshot) float64 { return s.NAT.ErrorsPerSec })).th(1, 50).named("NATPortAllocationErrors"),
		def(`100 * sum(aws_natgateway_port_demand) / sum(aws_natgateway_port_capacity)`, "aws",
			"NAT gateway source ports needed, percent of capacity", "%",
			one(func(s *Snapshot) float64 { return 100 * s.NAT.PortDemand / s.NAT.Ports })).th(90, 100),
		def(`sum(rate(cloudflare_requests_total{client="bot",action="allowed"}[1m]))`, "cloudflare",
			"bot requests/s getting through the WAF to the origin", "req/s",
			one(func(s *Snapshot) float64 { return s.WAF.BotAllowed })).th(2000, 5000).named("BotsReachingOrigin"),
		def(`sum(rate(cloudflare_requests_total{action="blocked"}[1m]))`, "cloudflare", "requests/s blocked by the WAF", "req/s",
			one(func(s *Snapshot) float64 { return s.WAF.Blocked() })),
		def(`sum(rate(cloudflare_requests_total{action="challenged"}[1m]))`, "cloudflare",
			"requests/s stopped by a WAF challenge", "req/s",
			one(func(s *Snapshot) float64 { return s.WAF.BotChallenged })),
		def(`sum by (action) (rate(cloudflare_requests_total{client="bot"}[1m]))`, "cloudflare",
			"bot requests/s by WAF action (allowed, challenged, blocked)", "req/s",
			[]series{
				{labels: map[string]string{"action": "allowed"}, fn: func(s *Snapshot) float64 { return s.WAF.BotAllowed }},
				{labels: map[string]string{"action": "challenged"}, fn: func(s *Snapshot) float64 { return s.WAF.BotChallenged }},
				{labels: map[string]string{"action": "blocked"}, fn: func(s *Snapshot) float64 { return s.WAF.BotBlocked }},
			}),
	)
	ptitle := map[string]string{"triton": "Triton", "quicknode": "QuickNode"}
	for i, p := range ProviderNames {
		q = append(q,
			def(fmt.Sprintf(`rpc_request_duration_seconds{provider="%s",quantile="0.95"}`, p), p, p+" RPC p95 latency", "s",
				[]series{{labels: map[string]string{"__name__": "rpc_request_duration_seconds", "provider": p, "quantile": "0.95"},
					fn: func(s *Snapshot) float64 { return s.RPC[i].P95 }}}).th(0.25, 0.5).named(ptitle[p]+"HighLatency"),
			def(fmt.Sprintf(`100 * sum(rate(rpc_requests_total{provider="%s",code="429"}[1m])) / sum(rate(rpc_requests_total{provider="%s"}[1m]))`, p, p),
				p, p+" RPC calls answered 429, percent", "%",
				one(func(s *Snapshot) float64 { return 100 * s.RPC[i].Rate429 })).th(1, 5).named(ptitle[p]+"RateLimited"),
			def(fmt.Sprintf(`solana_provider_slot_lag{provider="%s"}`, p), p, p+" slots behind the best provider", "slots",
				[]series{{labels: map[string]string{"__name__": "solana_provider_slot_lag", "provider": p},
					fn: func(s *Snapshot) float64 { return float64(s.RPC[i].Lag) }}}).th(20, 50).named(ptitle[p]+"SlotLag"),
			def(fmt.Sprintf(`scalar(max(solana_slot{commitment="confirmed"})) - solana_slot{provider="%s",commitment="confirmed"}`, p),
				p, p+" confirmed slots behind the best provider", "slots",
				[]series{{labels: map[string]string{"commitment": "confirmed", "provider": p},
					fn: func(s *Snapshot) float64 { return float64(s.RPC[i].Lag) }}}).th(20, 50),
			def(fmt.Sprintf(`rpc_traffic_split_percent{provider="%s"}`, p), p, "share of RPC traffic sent to "+p, "%",
				[]series{{labels: map[string]string{"__name__": "rpc_traffic_split_percent", "provider": p},
					fn: func(s *Snapshot) float64 { return s.RPC[i].SplitPct }}}),
		)
	}
	q = append(q,
		def(`sum by (provider) (rate(rpc_requests_total{code="429"}[1m]))`, "", "RPC calls/s answered 429, per provider", "req/s",
			byProv("provider", func(s *Snapshot, i int) float64 { return s.RPC[i].LoadRPS * s.RPC[i].Rate429 })),
		def(`100 * sum(rate(wallet_tx_landed_total[1m])) / sum(rate(wallet_tx_submitted_total[1m]))`, "blowfish",
			"wallet transactions landing, percent", "%",
			one(func(s *Snapshot) float64 { return s.Fees.LandingPct })).th(90, 80).named("TxLandingRateLow"),
		def(`solana_priority_fee_microlamports{quantile="0.5"}`, "blowfish",
			"median recent prioritization fee on the network", "µlamports/CU",
			[]series{{labels: map[string]string{"__name__": "solana_priority_fee_microlamports", "quantile": "0.5"},
				fn: func(s *Snapshot) float64 { return s.Fees.MarketP50 }}}),
		def(`wallet_priority_fee_microlamports`, "blowfish", "priority fee the wallet sets on its transactions", "µlamports/CU",
			[]series{{labels: map[string]string{"__name__": "wallet_priority_fee_microlamports"},
				fn: func(s *Snapshot) float64 { return s.Fees.Setting }}}),
		def(`blowfish_simulation_duration_seconds{quantile="0.95"}`, "blowfish", "Blowfish transaction simulation p95", "s",
			[]series{{labels: map[string]string{"__name__": "blowfish_simulation_duration_seconds", "quantile": "0.95"},
				fn: func(s *Snapshot) float64 { return s.Blowfish.P95 }}}).th(0.5, 1).named("BlowfishSlowScans"),
		def(`up`, "", "the simulator is up", "",
			[]series{{labels: map[string]string{"__name__": "up", "job": "warroom-sim", "instance": "warroom-sim"},
				fn: func(*Snapshot) float64 { return 1 }}}),
	)
	return q
}

var ddTable = buildDDTable()

func buildDDTable() []queryDef {
	q := []queryDef{
		def(`sum:trace.http.request.hits{*}.as_rate()`, "", "requests/s reaching the origin", "req/s",
			one(func(s *Snapshot) float64 { return s.OriginRPS })),
		def(`sum:trace.http.request.hits{*} by {service}.as_rate()`, "", "requests/s per service", "req/s",
			bySvc("service", svcRPS)),
		def(`p95:trace.http.request{*} by {service}`, "", "p95 latency per service", "s",
			bySvc("service", func(s *Snapshot, i int) float64 { return s.Services[i].P95 })),
	}
	for i, n := range ServiceNames {
		q = append(q,
			def(fmt.Sprintf(`sum:trace.http.request.hits{service:%s}.as_rate()`, n), n, n+" requests/s", "req/s",
				one(func(s *Snapshot) float64 { return s.Services[i].RPS })),
			def(fmt.Sprintf(`sum:trace.http.request.errors{service:%s}.as_rate()`, n), n,
				n+" 5xx responses/s (formula 100*errors/hits gives percent)", "req/s",
				one(func(s *Snapshot) float64 { return svcErrRPS(s, i) })),
			def(fmt.Sprintf(`p95:trace.http.request{service:%s}`, n), n, n+" p95 latency", "s",
				one(func(s *Snapshot) float64 { return s.Services[i].P95 })).th(0.5, 1),
		)
	}
	q = append(q,
		def(`avg:postgresql.connections{db:allium}`, "tokens", "connections used on the shared Allium database (max 500)", "conns",
			one(func(s *Snapshot) float64 { return s.DB.Used })).th(400, 475),
		def(`avg:postgresql.connections{db:allium} by {state}`, "history", "Allium connections by state (active, idle)", "conns",
			[]series{
				{tags: []string{"state:active"}, fn: func(s *Snapshot) float64 { return s.DB.Active }},
				{tags: []string{"state:idle"}, fn: func(s *Snapshot) float64 { return s.DB.Idle }},
			}),
		def(`avg:postgresql.max_connections{db:allium}`, "tokens", "Allium max_connections", "conns",
			one(func(s *Snapshot) float64 { return s.DB.Max })),
		def(`avg:postgresql.percent_usage_connections{db:allium}`, "history",
			"Allium connections used as a fraction of max_connections (0-1)", "fraction",
			one(func(s *Snapshot) float64 { return s.DB.Saturation })).th(0.8, 0.95),
		def(`avg:lambda.concurrent_executions{function:tokens}`, "tokens", "tokens Lambda concurrent executions", "",
			one(func(s *Snapshot) float64 { return s.Lambda[svcTokens].Concurrent })),
		def(`avg:aws.lambda.concurrent_executions{functionname:tokens}`, "tokens", "tokens Lambda concurrent executions", "",
			one(func(s *Snapshot) float64 { return s.Lambda[svcTokens].Concurrent })),
		def(`avg:aws.lambda.concurrent_executions{*} by {functionname}`, "", "Lambda concurrent executions per function", "",
			bySvc("functionname", func(s *Snapshot, i int) float64 { return s.Lambda[i].Concurrent })),
		def(`sum:aws.lambda.throttles{functionname:tokens}.as_rate()`, "tokens", "tokens Lambda throttles/s", "/s",
			one(func(s *Snapshot) float64 { return s.Lambda[svcTokens].ThrottlesPerSec })).th(10, 100),
		def(`avg:aws.nat.error_port_allocation{*}`, "aws", "NAT gateway port allocation errors/s", "/s",
			one(func(s *Snapshot) float64 { return s.NAT.ErrorsPerSec })).th(1, 50),
		def(`sum:aws.natgateway.error_port_allocation{*}.as_rate()`, "aws", "NAT gateway port allocation errors/s", "/s",
			one(func(s *Snapshot) float64 { return s.NAT.ErrorsPerSec })).th(1, 50),
		def(`sum:cloudflare.waf.blocked{*}.as_rate()`, "cloudflare", "requests/s blocked by the WAF", "req/s",
			one(func(s *Snapshot) float64 { return s.WAF.Blocked() })),
		def(`sum:cloudflare.waf.challenged{*}.as_rate()`, "cloudflare", "requests/s stopped by a WAF challenge", "req/s",
			one(func(s *Snapshot) float64 { return s.WAF.BotChallenged })),
		def(`sum:cloudflare.bot.requests_passed{*}.as_rate()`, "cloudflare", "bot requests/s reaching the origin", "req/s",
			one(func(s *Snapshot) float64 { return s.WAF.BotAllowed })).th(2000, 5000),
	)
	for i, p := range ProviderNames {
		q = append(q,
			def(fmt.Sprintf(`avg:solana.rpc.latency.p95{provider:%s}`, p), p, p+" RPC p95 latency", "s",
				one(func(s *Snapshot) float64 { return s.RPC[i].P95 })).th(0.25, 0.5),
			def(fmt.Sprintf(`sum:solana.rpc.rate_limited{provider:%s}.as_rate()`, p), p, p+" RPC calls/s answered 429", "req/s",
				one(func(s *Snapshot) float64 { return s.RPC[i].LoadRPS * s.RPC[i].Rate429 })).th(100, 1000),
			def(fmt.Sprintf(`avg:solana.rpc.slot_lag{provider:%s}`, p), p, p+" slots behind the best provider", "slots",
				one(func(s *Snapshot) float64 { return float64(s.RPC[i].Lag) })).th(20, 50),
		)
	}
	q = append(q,
		def(`avg:solana.rpc.latency.p95{*} by {provider}`, "", "RPC p95 latency per provider", "s",
			byProv("provider", func(s *Snapshot, i int) float64 { return s.RPC[i].P95 })),
		def(`avg:solana.rpc.slot_lag{*} by {provider}`, "", "slots behind the best provider, per provider", "slots",
			byProv("provider", func(s *Snapshot, i int) float64 { return float64(s.RPC[i].Lag) })),
		def(`avg:wallet.tx.landing_rate{service:blowfish}`, "blowfish", "wallet transactions landing, percent", "%",
			one(func(s *Snapshot) float64 { return s.Fees.LandingPct })).th(90, 80),
		def(`avg:solana.priority_fee.p50{*}`, "blowfish", "median recent prioritization fee", "µlamports/CU",
			one(func(s *Snapshot) float64 { return s.Fees.MarketP50 })),
		def(`avg:wallet.priority_fee.setting{*}`, "blowfish", "priority fee the wallet sets", "µlamports/CU",
			one(func(s *Snapshot) float64 { return s.Fees.Setting })),
		def(`p95:blowfish.scan.duration{service:blowfish}`, "blowfish", "Blowfish transaction simulation p95", "s",
			one(func(s *Snapshot) float64 { return s.Blowfish.P95 })).th(0.5, 1),
	)
	for i := range q {
		q[i].late = strings.Contains(q[i].Query, ":aws.")
		if q[i].late {
			q[i].Description += " (AWS CloudWatch: 10-20 minutes late)"
		}
	}
	return q
}

// normQuery drops whitespace outside string literals so that spacing
// variants of a catalogued query match.
func normQuery(q string) string {
	var b strings.Builder
	var quote rune
	esc := false
	for _, r := range q {
		switch {
		case quote != 0:
			b.WriteRune(r)
			if esc {
				esc = false
			} else if r == '\\' {
				esc = true
			} else if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
			b.WriteRune(r)
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func index(defs []queryDef) map[string]*queryDef {
	m := make(map[string]*queryDef, len(defs))
	for i := range defs {
		k := normQuery(defs[i].Query)
		if _, dup := m[k]; dup {
			panic("sim: duplicate query " + defs[i].Query)
		}
		m[k] = &defs[i]
	}
	return m
}

var (
	promIndex = index(promTable)
	ddIndex   = index(ddTable)
)

func infos(defs []queryDef) []QueryInfo {
	out := make([]QueryInfo, len(defs))
	for i, d := range defs {
		out[i] = d.QueryInfo
	}
	return out
}

// PromCatalog documents each PromQL expression: unit, service, thresholds.
func PromCatalog() []QueryInfo { return infos(promTable) }

// DatadogCatalog documents each Datadog query.
func DatadogCatalog() []QueryInfo { return infos(ddTable) }
