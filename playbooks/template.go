package playbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Templates are the only way values reach a request, a process or a
// message. A template is text with {{ … }} holes; a hole holds one
// reference (params.NAME, steps.ID.NAME, vars.NAME, secrets.NAME, run.id,
// run.by) or a sum or difference of two operands ({{100 - params.pct}}).
// There is no other logic: no functions, no conditionals, no shell.
//
// Where a value lands decides how it is encoded: URL path holes are
// escaped as one path segment, query holes as a query value, JSON holes
// go through encoding/json, header holes are refused if they contain a
// line break. Secrets may only appear in headers (exec steps receive them
// through secret_env).
type tmpl struct {
	raw   string
	parts []tpart
}

type tpart struct {
	lit  string
	expr *expr // nil for a literal
}

type expr struct {
	a, b operand
	op   byte // 0, '+' or '-'
	text string
}

type operand struct {
	ref *ref
	num json.Number // a literal number when ref is nil
}

type ref struct {
	ns   string // params, steps, vars, secrets, run
	step string // for steps
	name string
}

func (r *ref) String() string {
	if r.ns == "steps" {
		return "steps." + r.step + "." + r.name
	}
	return r.ns + "." + r.name
}

var (
	refPattern = regexp.MustCompile(`^(params|vars|secrets|run)\.([a-z][a-z0-9_]*)$|^steps\.([a-z][a-z0-9_-]*)\.([a-z][a-z0-9_]*)$`)
	numPattern = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,15})?$`)
)

// parseTemplate splits s into literals and holes. Errors say what is
// wrong with the first bad hole.
func parseTemplate(s string) (*tmpl, error) {
	t := &tmpl{raw: s}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		j := strings.Index(rest, "}}")
		if i < 0 {
			if j >= 0 {
				return nil, errors.New(`"}}" without "{{"`)
			}
			if rest != "" {
				t.parts = append(t.parts, tpart{lit: rest})
			}
			return t, nil
		}
		if j >= 0 && j < i {
			return nil, errors.New(`"}}" without "{{"`)
		}
		if i > 0 {
			t.parts = append(t.parts, tpart{lit: rest[:i]})
		}
		rest = rest[i+2:]
		k := strings.Index(rest, "}}")
		if k < 0 {
			return nil, errors.New(`"{{" is not closed by "}}"`)
		}
		inner := strings.TrimSpace(rest[:k])
		if strings.Contains(inner, "{{") {
			return nil, errors.New(`"{{" inside a hole`)
		}
		e, err := parseExpr(inner)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, tpart{expr: e})
		rest = rest[k+2:]
	}
}

func parseExpr(s string) (*expr, error) {
	f := strings.Fields(s)
	e := &expr{text: s}
	var err error
	switch len(f) {
	case 1:
		e.a, err = parseOperand(f[0])
		if err == nil && e.a.ref == nil {
			err = fmt.Errorf("{{%s}} is a constant; write the value itself", s)
		}
	case 3:
		if f[1] != "+" && f[1] != "-" {
			return nil, fmt.Errorf("{{%s}}: only + and - are supported", s)
		}
		e.op = f[1][0]
		if e.a, err = parseOperand(f[0]); err == nil {
			e.b, err = parseOperand(f[2])
		}
	case 0:
		return nil, errors.New("empty {{ }}")
	default:
		err = fmt.Errorf("{{%s}}: a hole holds one reference, or two joined by + or - with spaces around it", s)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func parseOperand(s string) (operand, error) {
	if numPattern.MatchString(s) {
		return operand{num: json.Number(s)}, nil
	}
	m := refPattern.FindStringSubmatch(s)
	if m == nil {
		return operand{}, fmt.Errorf("%q is not a reference (params.NAME, steps.ID.NAME, vars.NAME, secrets.NAME, run.id, run.by) or a number", s)
	}
	if m[1] != "" {
		if m[1] == "run" && m[2] != "id" && m[2] != "by" {
			return operand{}, fmt.Errorf("%q: run has only run.id and run.by", s)
		}
		return operand{ref: &ref{ns: m[1], name: m[2]}}, nil
	}
	return operand{ref: &ref{ns: "steps", step: m[3], name: m[4]}}, nil
}

// refs lists every reference in the template.
func (t *tmpl) refs() []*ref {
	var out []*ref
	for _, p := range t.parts {
		if p.expr == nil {
			continue
		}
		for _, o := range []operand{p.expr.a, p.expr.b} {
			if o.ref != nil {
				out = append(out, o.ref)
			}
		}
	}
	return out
}

// single returns the template's one hole when it is nothing else, so
// that "{{params.n}}" in a JSON body keeps the parameter's type.
func (t *tmpl) single() *expr {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		return t.parts[0].expr
	}
	return nil
}

// env holds the values templates read at run time.
type env struct {
	params  map[string]any // typed: int64, float64, bool, string
	saves   map[string]map[string]any
	vars    map[string]string
	secrets map[string]string
	run     map[string]string
	// placeholders: a missing step value renders as «steps.x.y» instead
	// of failing (dry runs, where mutating steps did not run).
	placeholders bool
}

// errUnknown is a value that is not known yet (a dry run).
type errUnknown struct{ ref string }

func (e *errUnknown) Error() string { return "the value of " + e.ref + " is not known yet" }

func (e *env) lookup(r *ref) (any, error) {
	switch r.ns {
	case "params":
		if v, ok := e.params[r.name]; ok {
			return v, nil
		}
	case "vars":
		if v, ok := e.vars[r.name]; ok {
			return v, nil
		}
	case "secrets":
		if v, ok := e.secrets[r.name]; ok {
			return v, nil
		}
	case "run":
		if v, ok := e.run[r.name]; ok {
			return v, nil
		}
	case "steps":
		if s, ok := e.saves[r.step]; ok {
			if v, ok := s[r.name]; ok {
				return v, nil
			}
		}
		if e.placeholders {
			return nil, &errUnknown{ref: r.String()}
		}
		return nil, fmt.Errorf("%s has no value: step %s did not save it", r, r.step)
	}
	return nil, fmt.Errorf("%s has no value", r)
}

func (e *env) operand(o operand) (any, error) {
	if o.ref == nil {
		return numberValue(o.num)
	}
	return e.lookup(o.ref)
}

// eval computes a hole's typed value.
func (e *env) eval(x *expr) (any, error) {
	a, err := e.operand(x.a)
	if err != nil || x.op == 0 {
		return a, err
	}
	b, err := e.operand(x.b)
	if err != nil {
		return nil, err
	}
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		var r int64
		if x.op == '+' {
			r = ai + bi
			if (r > ai) != (bi > 0) {
				return nil, fmt.Errorf("{{%s}} overflows", x.text)
			}
		} else {
			r = ai - bi
			if (r < ai) != (bi > 0) {
				return nil, fmt.Errorf("{{%s}} overflows", x.text)
			}
		}
		return r, nil
	}
	af, ok1 := toFloat(a)
	bf, ok2 := toFloat(b)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("{{%s}}: + and - need numbers", x.text)
	}
	if x.op == '+' {
		return af + bf, nil
	}
	return af - bf, nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// numberValue turns a JSON or literal number into int64 when it is a
// whole number that fits, float64 otherwise.
func numberValue(n json.Number) (any, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("bad number %q", string(n))
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), nil
	}
	return f, nil
}

// normalize converts a decoded JSON value (UseNumber) into template
// values: numbers become int64 or float64.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		n, err := numberValue(x)
		if err != nil {
			return string(x)
		}
		return n
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

// valueString is a value as text: numbers in their shortest form,
// objects and lists as JSON.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// render produces the template's text, passing each hole's value through
// enc (the context's escaping).
func (e *env) render(t *tmpl, enc func(string) (string, error)) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := e.eval(p.expr)
		if err != nil {
			var u *errUnknown
			if errors.As(err, &u) {
				b.WriteString("«" + u.ref + "»")
				continue
			}
			return "", err
		}
		s := valueString(v)
		if enc != nil {
			if s, err = enc(s); err != nil {
				return "", fmt.Errorf("{{%s}}: %w", p.expr.text, err)
			}
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// value is the template's typed value: the hole's own value when the
// template is a single hole, the rendered text otherwise.
func (e *env) value(t *tmpl) (any, error) {
	if x := t.single(); x != nil {
		v, err := e.eval(x)
		var u *errUnknown
		if errors.As(err, &u) {
			return "«" + u.ref + "»", nil
		}
		return v, err
	}
	return e.render(t, nil)
}
