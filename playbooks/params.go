package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxParamInput bounds any raw parameter value before it is parsed.
const MaxParamInput = 4096

// ParamError lists every problem with the parameters of one request.
type ParamError struct {
	Playbook string
	Problems []string // "name: reason"
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("playbook %s: bad parameters: %s", e.Playbook, strings.Join(e.Problems, "; "))
}

// Values are validated parameters: typed values (int64, float64, bool,
// string) and their canonical text.
type Values struct {
	Typed map[string]any
	Text  map[string]string
}

// Summary is "k=v k=v" in declaration order, for the timeline.
func (p *Playbook) Summary(v Values) string {
	var parts []string
	for _, prm := range p.Params {
		if s, ok := v.Text[prm.Name]; ok {
			if prm.Type == TypeString {
				s = strconv.Quote(s)
			}
			parts = append(parts, prm.Name+"="+s)
		}
	}
	return strings.Join(parts, " ")
}

// ValidateParams checks raw values (as typed by a person or given with
// --param k=v) against the playbook's parameter types and applies
// defaults. Every problem is reported; nothing runs on any error.
func (p *Playbook) ValidateParams(raw map[string]string) (Values, error) {
	out := Values{Typed: map[string]any{}, Text: map[string]string{}}
	var probs []string
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if p.param(k) == nil {
			msg := shortText(k) + ": no such parameter"
			if s := suggest(k, p.paramNames()); s != "" {
				msg += " (" + s + ")"
			}
			probs = append(probs, msg)
		}
	}
	for _, prm := range p.Params {
		s, given := raw[prm.Name]
		if !given {
			if prm.Default == nil {
				probs = append(probs, prm.Name+": required ("+prm.Describe()+")")
				continue
			}
			s = *prm.Default
		}
		v, err := prm.parse(s)
		if err != nil {
			probs = append(probs, prm.Name+": "+err.Error())
			continue
		}
		out.Typed[prm.Name] = v
		out.Text[prm.Name] = canonical(v)
	}
	if len(probs) > 0 {
		return Values{}, &ParamError{Playbook: p.ID, Problems: probs}
	}
	return out, nil
}

func (p *Playbook) param(name string) *Param {
	for _, prm := range p.Params {
		if prm.Name == name {
			return prm
		}
	}
	return nil
}

func (p *Playbook) paramNames() []string {
	out := make([]string, len(p.Params))
	for i, prm := range p.Params {
		out[i] = prm.Name
	}
	return out
}

// Describe is the parameter's type and constraints in words.
func (p *Param) Describe() string {
	switch p.Type {
	case TypeInt:
		s := fmt.Sprintf("integer from %d to %d", p.IntMin, p.IntMax)
		if p.IntStep > 1 {
			s += fmt.Sprintf(" in steps of %d", p.IntStep)
		}
		return s
	case TypeFloat:
		s := fmt.Sprintf("number from %s to %s", fmtFloat(p.Min), fmtFloat(p.Max))
		if p.HasStep {
			s += " in steps of " + fmtFloat(p.Step)
		}
		return s
	case TypeEnum:
		return "one of " + strings.Join(p.Values, ", ")
	case TypeBool:
		return "true or false"
	case TypeString:
		return fmt.Sprintf("text matching %s, at most %d characters", strings.TrimSuffix(strings.TrimPrefix(p.Pattern.String(), "^(?:"), ")$"), p.MaxLen)
	}
	return string(p.Type)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

var (
	intText   = regexp.MustCompile(`^-?[0-9]{1,18}$`)
	floatText = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,15})?$`)
)

// hygiene refuses text no parameter may carry, whatever its pattern:
// invalid UTF-8, control characters (NUL, newlines, escapes) and the
// invisible formatting characters used to disguise text (bidi overrides,
// zero-width).
func hygiene(s string) error {
	if len(s) > MaxParamInput {
		return fmt.Errorf("too long (%d bytes; at most %d)", len(s), MaxParamInput)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("control character %U is not allowed", r)
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Cc, r), r == '\u2028', r == '\u2029':
			return fmt.Errorf("invisible formatting character %U is not allowed", r)
		}
	}
	return nil
}

// parse checks one raw value and returns its typed value.
func (p *Param) parse(s string) (any, error) {
	if err := hygiene(s); err != nil {
		return nil, err
	}
	switch p.Type {
	case TypeInt:
		if !intText.MatchString(s) {
			return nil, fmt.Errorf("%s is not an integer (%s)", shortText(s), p.Describe())
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is out of range (%s)", shortText(s), p.Describe())
		}
		if v < p.IntMin || v > p.IntMax {
			return nil, fmt.Errorf("%d is out of bounds (%s)", v, p.Describe())
		}
		if (v-p.IntMin)%p.IntStep != 0 {
			return nil, fmt.Errorf("%d is not a step of %d from %d (%s)", v, p.IntStep, p.IntMin, p.Describe())
		}
		return v, nil
	case TypeFloat:
		if !floatText.MatchString(s) {
			return nil, fmt.Errorf("%s is not a plain decimal number (%s)", shortText(s), p.Describe())
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%s is out of range (%s)", shortText(s), p.Describe())
		}
		if v < p.Min || v > p.Max {
			return nil, fmt.Errorf("%s is out of bounds (%s)", s, p.Describe())
		}
		if p.HasStep {
			k := (v - p.Min) / p.Step
			if math.Abs(k-math.Round(k)) > 1e-9*math.Max(1, math.Abs(k)) {
				return nil, fmt.Errorf("%s is not a step of %s from %s (%s)", s, fmtFloat(p.Step), fmtFloat(p.Min), p.Describe())
			}
		}
		if v == 0 {
			v = 0 // no -0
		}
		return v, nil
	case TypeEnum:
		if !slices.Contains(p.Values, s) {
			return nil, fmt.Errorf("%s is not allowed (%s)", shortText(s), p.Describe())
		}
		return s, nil
	case TypeBool:
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%s is not true or false", shortText(s))
	case TypeString:
		if n := utf8.RuneCountInString(s); n > p.MaxLen {
			return nil, fmt.Errorf("too long (%d characters; at most %d)", n, p.MaxLen)
		}
		if strings.HasPrefix(s, "-") {
			return nil, errors.New("must not start with '-' (it would read as an option)")
		}
		if !p.Pattern.MatchString(s) {
			return nil, fmt.Errorf("%s does not match the pattern (%s)", shortText(s), p.Describe())
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown type %s", p.Type)
}

// shortText quotes a value for a message, truncated and escaped, so a
// rejected value cannot smuggle anything into the message.
func shortText(s string) string {
	const limit = 32
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "…"
	}
	return strconv.QuoteToASCII(s)
}

func canonical(v any) string { return valueString(v) }

// Hash binds a run to one playbook file and its exact parameters: the
// approval is for this hash, and the run executes only with it.
func (p *Playbook) Hash(v Values) string {
	b, err := json.Marshal(struct {
		Playbook string            `json:"playbook"`
		Digest   string            `json:"digest"`
		Params   map[string]string `json:"params"`
	}{p.ID, p.Digest, v.Text})
	if err != nil {
		panic(err) // plain strings cannot fail to encode
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ValuesFromText rebuilds validated values from a run's recorded
// canonical parameters (resuming after a crash).
func (p *Playbook) ValuesFromText(text map[string]string) (Values, error) {
	return p.ValidateParams(text)
}
