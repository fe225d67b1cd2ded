package config

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Error is one problem in a war-room file, at a position.
type Error struct {
	File string
	Line int // 1-based
	Col  int // 1-based
	// Path is the field path, e.g. services[2].panes[0].warn. It is empty
	// for problems with the file as a whole (syntax, size).
	Path string
	Msg  string
	Hint string // optional advice; printed in parentheses
}

// Error formats the problem as file:line:col: field.path: message (hint).
func (e Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Errors is every problem found in one pass over a file, sorted by
// position. Parse and Load return it (as *Errors) for any bad input.
type Errors struct {
	List []Error
}

// Error joins the problems one per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, x := range e.List {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// add records x, scrubbed: error text goes to terminals, CI logs and
// Slack, so it is kept to one line and never carries a credential, even
// one quoted back by the YAML parser.
func (e *Errors) add(x Error) {
	x.Path, x.Msg, x.Hint = scrub(x.Path), scrub(x.Msg), scrub(x.Hint)
	e.List = append(e.List, x)
}

var scrubPatterns = []*regexp.Regexp{
	regexp.MustCompile(`xox[abpr]-[A-Za-z0-9-]{8,}`),
	regexp.MustCompile(`xapp-[A-Za-z0-9-]{8,}`),
	regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`[0-9A-Fa-f]{32,}`),
}

func scrub(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	}
	if tokenKind(s) == "" {
		return s
	}
	for _, re := range scrubPatterns {
		s = re.ReplaceAllString(s, "…")
	}
	return s
}

// sort orders by position, then path and message so output is stable
// (golden files, CI diffs). Exact duplicates (the same node reached twice
// through an alias used in the same place) are dropped.
func (e *Errors) sort() {
	slices.SortStableFunc(e.List, func(a, b Error) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	e.List = slices.Compact(e.List)
}

// errOrNil keeps a nil *Errors from becoming a non-nil error interface.
func (e *Errors) errOrNil() error {
	if e == nil || len(e.List) == 0 {
		return nil
	}
	e.sort()
	return e
}
