package config

import (
	"fmt"
	"regexp"
	"strings"
)

// This file holds what the war-room file says about imported alerts and
// empty answers: the severity table, label matchers (drop: and alerts:),
// and the NO DATA policy of a pane.

// NoData is a pane's policy for an answer with no series.
type NoData string

const (
	// NoDataShow (the default) shows a grey NO DATA badge, never green,
	// and opens no alert: real back-ends answer with no series when
	// nothing happened (lazily created Prometheus series, late metrics).
	NoDataShow NoData = "show"
	// NoDataAlert opens a NO DATA alert that escalates like any other.
	NoDataAlert NoData = "alert"
	// NoDataZero reads an empty answer as 0, for series that appear only
	// once something is counted (5xx responses, errors).
	NoDataZero NoData = "zero"
)

// Severity is how an imported alert counts in the room.
type Severity string

const (
	SeverityCrit Severity = "crit"
	SeverityWarn Severity = "warn"
	// SeverityInfo alerts are shown but never escalate or page.
	SeverityInfo Severity = "info"
)

// Severities lists the values a severity table maps to.
var Severities = []string{string(SeverityCrit), string(SeverityWarn), string(SeverityInfo)}

// DefaultSeverities is the documented table an imported alert's severity
// goes through: the `severity` label of a Prometheus or Alertmanager
// alert, or the state of a Datadog monitor group (Alert, Warn, No Data,
// Skipped, Ignored, Unknown). Matching ignores case. A source's
// `severity:` section overrides entries; anything listed nowhere is
// warn unless the section says otherwise (default:).
//
//	crit  critical crit page error high emergency alert fatal p1 sev1
//	warn  warning warn medium minor p2 p3 sev2 sev3
//	info  info informational none low notice p4 p5 sev4 sev5
//	      no data skipped ignored unknown   (Datadog states that say
//	      nothing is wrong with the service, only with the monitor)
var DefaultSeverities = func() map[string]Severity {
	m := map[string]Severity{}
	for sev, names := range map[Severity][]string{
		SeverityCrit: {"critical", "crit", "page", "error", "high", "emergency", "alert", "fatal", "p1", "sev1"},
		SeverityWarn: {"warning", "warn", "medium", "minor", "p2", "p3", "sev2", "sev3"},
		SeverityInfo: {"info", "informational", "none", "low", "notice", "p4", "p5", "sev4", "sev5",
			"no data", "skipped", "ignored", "unknown"},
	} {
		for _, n := range names {
			m[n] = sev
		}
	}
	return m
}()

// SeverityMap is a source's override of DefaultSeverities.
type SeverityMap struct {
	Crit []string `yaml:"crit"`
	Warn []string `yaml:"warn"`
	Info []string `yaml:"info"`
	// Default is the severity of values listed nowhere (default warn:
	// someone wrote the alert for a reason).
	Default Severity `yaml:"default"`
}

// Severity maps an imported alert's severity (label value or state)
// through the source's table.
func (s *Source) Severity(value string) Severity {
	v := strings.ToLower(strings.TrimSpace(value))
	if m := s.SeverityMap; m != nil {
		for _, x := range []struct {
			sev   Severity
			names []string
		}{{SeverityCrit, m.Crit}, {SeverityWarn, m.Warn}, {SeverityInfo, m.Info}} {
			for _, n := range x.names {
				if strings.EqualFold(strings.TrimSpace(n), v) {
					return x.sev
				}
			}
		}
	}
	if sev, ok := DefaultSeverities[v]; ok {
		return sev
	}
	if m := s.SeverityMap; m != nil && m.Default != "" {
		return m.Default
	}
	return SeverityWarn
}

// Matcher is one label matcher in Prometheus' syntax: name=value,
// name!=value, name=~regex or name!~regex. Regexes are anchored, as in
// Prometheus and Alertmanager.
type Matcher struct {
	Name  string
	Op    string // = != =~ !~
	Value string
	re    *regexp.Regexp
}

// Matchers is a set of matchers that must all match, written
// `alertname=Watchdog, severity=none` (values may be double-quoted).
type Matchers []Matcher

var matcherRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// ParseMatchers parses a comma-separated matcher set; `{…}` around it is
// accepted, as Alertmanager writes it.
func ParseMatchers(s string) (Matchers, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = s[1 : len(s)-1]
	}
	parts, err := splitMatchers(s)
	if err != nil {
		return nil, err
	}
	var out Matchers
	for _, p := range parts {
		m := matcherRE.FindStringSubmatch(p)
		if m == nil {
			return nil, fmt.Errorf("%s is not a matcher", quoteShort(strings.TrimSpace(p)))
		}
		mt := Matcher{Name: m[1], Op: m[2], Value: m[3]}
		if len(mt.Value) >= 2 && mt.Value[0] == '"' && mt.Value[len(mt.Value)-1] == '"' {
			mt.Value = strings.ReplaceAll(mt.Value[1:len(mt.Value)-1], `\"`, `"`)
		}
		if mt.Op == "=~" || mt.Op == "!~" {
			re, err := regexp.Compile("^(?:" + mt.Value + ")$")
			if err != nil {
				return nil, fmt.Errorf("bad regular expression %s", quoteShort(mt.Value))
			}
			mt.re = re
		}
		out = append(out, mt)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no matchers")
	}
	return out, nil
}

// splitMatchers splits on commas outside double quotes.
func splitMatchers(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	quoted, esc := false, false
	for _, r := range s {
		switch {
		case esc:
			esc = false
		case r == '\\' && quoted:
			esc = true
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			if strings.TrimSpace(b.String()) != "" {
				out = append(out, b.String())
			}
			b.Reset()
			continue
		}
		b.WriteRune(r)
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if strings.TrimSpace(b.String()) != "" {
		out = append(out, b.String())
	}
	return out, nil
}

// Matches reports whether every matcher holds for labels. A missing label
// reads as "", as in Prometheus.
func (ms Matchers) Matches(labels map[string]string) bool {
	for _, m := range ms {
		v := labels[m.Name]
		var ok bool
		switch m.Op {
		case "=":
			ok = v == m.Value
		case "!=":
			ok = v != m.Value
		case "=~":
			ok = m.re.MatchString(v)
		case "!~":
			ok = !m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return len(ms) > 0
}

// ParseMatcherList parses each item of a drop: or alerts: list. The file
// was validated, so errors only come from configs built in code.
func ParseMatcherList(items []string) ([]Matchers, error) {
	out := make([]Matchers, 0, len(items))
	for _, it := range items {
		ms, err := ParseMatchers(it)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", quoteShort(it), err)
		}
		out = append(out, ms)
	}
	return out, nil
}

// AnyMatch reports whether one of the sets matches labels.
func AnyMatch(sets []Matchers, labels map[string]string) bool {
	for _, ms := range sets {
		if ms.Matches(labels) {
			return true
		}
	}
	return false
}
