package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Credentials that must never be written in the file. Each is searched
// for anywhere inside every string scalar (an RPC URL with a token in its
// path is as bad as a bare key).
var tokenPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"a Slack token", regexp.MustCompile(`xox[abpr]-[A-Za-z0-9-]{8,}`)},
	{"a Slack app token", regexp.MustCompile(`xapp-[A-Za-z0-9-]{8,}`)},
	{"a bearer token", regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}`)},
	// Datadog API keys are 32 hex digits, application keys 40; a run of
	// exactly that length (not part of a longer hex run) is flagged.
	{"a Datadog API key", regexp.MustCompile(`(?:^|[^0-9A-Fa-f])[0-9A-Fa-f]{32}(?:$|[^0-9A-Fa-f])`)},
	{"a Datadog application key", regexp.MustCompile(`(?:^|[^0-9A-Fa-f])[0-9A-Fa-f]{40}(?:$|[^0-9A-Fa-f])`)},
}

// tokenKind names the kind of credential s contains, or "".
func tokenKind(s string) string {
	if len(s) < 8 {
		return ""
	}
	for _, p := range tokenPatterns {
		if p.re.MatchString(s) {
			return p.kind
		}
	}
	return ""
}

// envRef matches ${NAME} inside a string.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// checkEnvRefs reports a malformed ${…} in s (unterminated, bad name).
// A $ not followed by { is an ordinary character.
func checkEnvRefs(s string) error {
	rest := envRef.ReplaceAllString(s, "")
	if i := strings.Index(rest, "${"); i >= 0 {
		return fmt.Errorf("malformed ${...} reference")
	}
	return nil
}

// ExpandEnv replaces each ${NAME} in s with the environment variable's
// value. An unset or empty variable is an error naming it, so a missing
// token fails at start-up rather than as a 401 later. The values it reads
// are remembered for Redact. Use it only at the point of use (building a
// request); keep and log the unexpanded form.
func ExpandEnv(s string) (string, error) {
	return expandEnv(s, os.LookupEnv)
}

func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if err := checkEnvRefs(s); err != nil {
		return "", err
	}
	var errs []error
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := lookup(name)
		if !ok || v == "" {
			errs = append(errs, fmt.Errorf("environment variable %s is not set", name))
			return ref
		}
		remember(name, v)
		return v
	})
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return out, nil
}

// The values ExpandEnv and Secret.Value have handed out, so that Redact
// can take them back out of anything about to be shown or logged (an
// error from net/http quotes the full URL, token included).
var (
	secretsMu sync.RWMutex
	secretSet = map[string]string{} // value → ${NAME}
	secretsBy []string              // values, longest first
)

// minRedactLen keeps short values (a port, "1") from being "redacted"
// all over unrelated text; real credentials are far longer.
const minRedactLen = 8

func remember(name, value string) {
	if len(value) < minRedactLen {
		return
	}
	ref := "${" + name + "}"
	forms := []string{value, url.PathEscape(value), url.QueryEscape(value)}
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, f := range forms {
		if _, ok := secretSet[f]; ok {
			continue
		}
		secretSet[f] = ref
		secretsBy = append(secretsBy, f)
	}
	// Longest first, so a value that contains another is replaced whole.
	slices.SortFunc(secretsBy, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
}

// Redact replaces every secret value that ExpandEnv or Secret.Value has
// returned in this process with its ${NAME} reference. Run it over any
// text that may contain an expanded URL or header before it reaches the
// timeline, Slack, an export or a log.
func Redact(s string) string {
	secretsMu.RLock()
	defer secretsMu.RUnlock()
	for _, v := range secretsBy {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, secretSet[v])
		}
	}
	return s
}

// UnmarshalText accepts Go duration syntax, so other YAML or JSON files in
// the project (playbooks) can use Duration with any decoder.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (%s)", shorten(string(b)), durationHint)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go duration text ("1m30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String is the Go duration text.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalText accepts only a ${NAME} reference.
func (s *Secret) UnmarshalText(b []byte) error {
	m := secretRef.FindSubmatch(b)
	if m == nil {
		return errors.New("secrets must be ${ENV_VAR} references, not literal values (" + secretHint + ")")
	}
	s.Env = string(m[1])
	return nil
}

// MarshalText writes the reference, never the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String is the ${NAME} reference ("" when unset), safe to print.
func (s Secret) String() string {
	if s.Env == "" {
		return ""
	}
	return "${" + s.Env + "}"
}
