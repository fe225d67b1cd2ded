package config

import (
	"regexp"
	"slices"
	"strings"
)

// QueryMetrics lists the metric names a query reads, so that an imported
// alert about the same metric joins the pane's alert group. It is a
// lexical reading, not a parser: for PromQL, identifiers that are not
// functions, keywords or label names; for Datadog, the `aggr:metric{…}`
// parts. RPC panes read no metric. The result is sorted and deduplicated.
func QueryMetrics(t SourceType, q string) []string {
	var out []string
	switch t {
	case SourcePrometheus:
		out = promMetrics(q)
	case SourceDatadog:
		out = datadogMetrics(q)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var ddMetric = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.])(?:[a-z0-9]+:)?([A-Za-z][A-Za-z0-9_.]*)\s*\{`)

func datadogMetrics(q string) []string {
	// Scopes ({service:x,env:y}) hold tags, not metrics: blank them.
	var b strings.Builder
	depth := 0
	for _, r := range q {
		switch {
		case r == '{':
			depth++
			if depth == 1 {
				b.WriteRune(r)
			}
		case r == '}':
			if depth > 0 {
				depth--
			}
			if depth == 0 {
				b.WriteRune(r)
			}
		case depth == 0:
			b.WriteRune(r)
		}
	}
	var out []string
	for _, m := range ddMetric.FindAllStringSubmatch(b.String(), -1) {
		if m[1] != "by" {
			out = append(out, m[1])
		}
	}
	return out
}

var promKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "offset": true, "and": true, "or": true, "unless": true, "atan2": true,
	"inf": true, "nan": true, "start": true, "end": true,
	// aggregations, also written `sum by (le) (…)`
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func promMetrics(q string) []string {
	var out []string
	i := 0
	next := func() byte { // the next non-space byte, without consuming it
		for j := i; j < len(q); j++ {
			if q[j] != ' ' && q[j] != '\t' && q[j] != '\n' && q[j] != '\r' {
				return q[j]
			}
		}
		return 0
	}
	skipTo := func(open, close byte) { // i is at open; skip to after its close
		depth := 0
		for ; i < len(q); i++ {
			switch c := q[i]; {
			case c == '"' || c == '\'' || c == '`':
				i = skipString(q, i) - 1
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					i++
					return
				}
			}
		}
	}
	for i < len(q) {
		c := q[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(q, i)
		case c == '{':
			// A selector: its metric name may be written as __name__="x".
			start := i
			skipTo('{', '}')
			if m := nameMatcher.FindStringSubmatch(q[start:i]); m != nil {
				out = append(out, m[1])
			}
		case c == '[':
			skipTo('[', ']')
		case c >= '0' && c <= '9' || c == '.':
			for i < len(q) && (isIdent(q[i]) || q[i] == '.' || ((q[i] == '+' || q[i] == '-') && (q[i-1] == 'e' || q[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(q) && isIdent(q[i]) {
				i++
			}
			word := q[start:i]
			lw := strings.ToLower(word)
			switch {
			case labelListKeywords[lw] && next() == '(':
				for q[i] != '(' {
					i++
				}
				skipTo('(', ')')
			case promKeywords[lw], next() == '(':
				// a keyword, or a function / aggregation
			default:
				out = append(out, word)
			}
		default:
			i++
		}
	}
	return out
}

var nameMatcher = regexp.MustCompile(`__name__\s*=\s*["']([A-Za-z_:][A-Za-z0-9_:]*)["']`)

// skipString returns the index after the string literal starting at i.
func skipString(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if quote != '`' {
				j++
			}
		case quote:
			return j + 1
		}
	}
	return len(q)
}
