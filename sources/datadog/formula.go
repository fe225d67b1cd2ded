package datadog

import (
	"fmt"
	"regexp"
	"strings"
)

// metricQuery matches one classic metric query inside a pane's query:
// [aggregator:]metric{scope} [by {tags}] [.as_rate() .rollup(avg, 60) …].
// Everything around the matches (numbers, operators, functions such as
// abs(…) or per_minute(…)) is the formula.
var metricQuery = regexp.MustCompile(`(?:[a-z][a-z0-9_.]*:)?[A-Za-z_][A-Za-z0-9_.]*\{[^{}]*\}(?:\s*by\s*\{[^{}]*\})?(?:\.[a-z_]+\([^()]*\))*`)

// batch is one request's queries and formulas: a formula per pane, over
// named metric queries shared between panes when they are the same.
type batch struct {
	queries  []string // metric query by index; named queryN+1
	formulas []string // one per pane, in pane order
}

func queryName(i int) string { return fmt.Sprintf("query%d", i+1) }

// add splits a pane query into metric queries and a formula.
// "100 * sum:errors{service:x}.as_rate() / sum:hits{service:x}.as_rate()"
// becomes queries [sum:errors{…}, sum:hits{…}] and "100 * query1 / query2".
// A pane query with no recognisable metric query is sent whole as one
// query (Datadog's 400 then names the problem).
func (b *batch) add(q string) {
	q = strings.TrimSpace(q)
	name := func(mq string) string {
		mq = strings.TrimSpace(mq)
		for i, have := range b.queries {
			if have == mq {
				return queryName(i)
			}
		}
		b.queries = append(b.queries, mq)
		return queryName(len(b.queries) - 1)
	}
	if !metricQuery.MatchString(q) {
		b.formulas = append(b.formulas, name(q))
		return
	}
	f := metricQuery.ReplaceAllStringFunc(q, name)
	b.formulas = append(b.formulas, strings.TrimSpace(f))
}
