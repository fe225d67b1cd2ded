package playbooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// urlTemplate is a request URL: a fixed base (scheme, host, optional base
// path), written out or taken whole from a var, then a path and query in
// which holes are escaped. Holes can never change the scheme or the host.
type urlTemplate struct {
	raw      string
	baseVar  string // {{vars.X}} at the start
	baseLit  string // or a literal scheme://host[:port]
	rest     *tmpl  // path and query after the base
	queryAt  int    // index in rest.parts of the part holding '?', -1: none
	queryOff int    // byte offset of '?' in that literal part
}

var (
	literalBase = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?`)
	// Characters a literal path or query may contain as written.
	literalPathChars = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$`)
)

func parseURLTemplate(s string) (*urlTemplate, error) {
	t, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	u := &urlTemplate{raw: s, queryAt: -1}
	var restParts []tpart
	switch {
	case len(t.parts) > 0 && t.parts[0].expr != nil:
		x := t.parts[0].expr
		if x.op != 0 || x.a.ref == nil || x.a.ref.ns != "vars" {
			return nil, errors.New("a URL starts with a literal http(s)://host or with {{vars.NAME}} holding the base URL")
		}
		u.baseVar = x.a.ref.name
		restParts = t.parts[1:]
	case len(t.parts) > 0:
		lit := t.parts[0].lit
		m := literalBase.FindString(lit)
		if m == "" {
			return nil, errors.New("a URL starts with a literal http(s)://host or with {{vars.NAME}} holding the base URL")
		}
		after := lit[len(m):]
		if after == "" && len(t.parts) > 1 {
			return nil, errors.New("the host must be written out in full: put a / after it before any {{…}}")
		}
		if after != "" && after[0] != '/' && after[0] != '?' {
			return nil, errors.New("the host must be written out in full: put a / after it before any {{…}}")
		}
		u.baseLit = m
		restParts = append([]tpart{{lit: after}}, t.parts[1:]...)
		if after == "" {
			restParts = t.parts[1:]
		}
	default:
		return nil, errors.New("empty URL")
	}
	if u.baseVar != "" && len(restParts) > 0 && restParts[0].expr != nil {
		return nil, errors.New("after {{vars." + u.baseVar + "}} the URL continues with / or ?")
	}
	for i, p := range restParts {
		if p.expr != nil {
			for _, o := range []operand{p.expr.a, p.expr.b} {
				if o.ref != nil && o.ref.ns == "secrets" {
					return nil, errors.New("secrets cannot go into a URL (it would be logged); send them in a header")
				}
			}
			continue
		}
		if i == 0 && u.baseVar != "" && p.lit != "" && p.lit[0] != '/' && p.lit[0] != '?' {
			return nil, errors.New("after {{vars." + u.baseVar + "}} the URL continues with / or ?")
		}
		if !literalPathChars.MatchString(p.lit) {
			return nil, fmt.Errorf("the URL contains a character that must be escaped: %s", quote(p.lit))
		}
		if strings.Contains(p.lit, "#") {
			return nil, errors.New("a request URL has no #fragment")
		}
		if u.queryAt < 0 {
			if k := strings.IndexByte(p.lit, '?'); k >= 0 {
				u.queryAt, u.queryOff = i, k
			}
		}
		if u.queryAt < 0 {
			for _, seg := range strings.Split(p.lit, "/") {
				if seg == "." || seg == ".." {
					return nil, errors.New("the URL path contains a . or .. segment")
				}
			}
		}
	}
	u.rest = &tmpl{raw: s, parts: restParts}
	return u, nil
}

// base resolves the URL's base and checks it: http or https, a host, no
// credentials, query or fragment.
func (u *urlTemplate) base(e *env) (*url.URL, error) {
	s := u.baseLit
	if u.baseVar != "" {
		v, ok := e.vars[u.baseVar]
		if !ok || v == "" {
			return nil, fmt.Errorf("var %s is not set", u.baseVar)
		}
		s = v
	}
	b, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("base URL %s is invalid", quote(s))
	}
	switch {
	case b.Scheme != "http" && b.Scheme != "https":
		return nil, fmt.Errorf("base URL %s is not http(s)", quote(s))
	case b.Host == "" || b.Opaque != "":
		return nil, fmt.Errorf("base URL %s has no host", quote(s))
	case b.User != nil:
		return nil, errors.New("base URL must not carry credentials; use a secret in a header")
	case b.RawQuery != "" || b.Fragment != "" || b.ForceQuery:
		return nil, fmt.Errorf("base URL %s must not have a query or fragment", quote(s))
	}
	return b, nil
}

// pathSegment escapes a value as exactly one path segment. Empty, . and
// .. are refused: servers clean them away or climb the path with them.
func pathSegment(v string) (string, error) {
	switch v {
	case "":
		return "", errors.New("an empty value cannot be a path segment")
	case ".", "..":
		return "", fmt.Errorf("%q cannot be a path segment", v)
	}
	return url.PathEscape(v), nil
}

// buildShown also returns the URL as text, with «placeholders» for
// values a dry run does not know.
func (u *urlTemplate) buildShown(e *env) (*url.URL, string, error) {
	b, err := u.base(e)
	if err != nil {
		return nil, "", err
	}
	var path, query strings.Builder
	inQuery := false
	for i, p := range u.rest.parts {
		if p.expr == nil {
			lit := p.lit
			if !inQuery && i == u.queryAt {
				path.WriteString(lit[:u.queryOff])
				query.WriteString(lit[u.queryOff+1:])
				inQuery = true
				continue
			}
			if inQuery {
				query.WriteString(lit)
			} else {
				path.WriteString(lit)
			}
			continue
		}
		enc := pathSegment
		if inQuery {
			enc = func(s string) (string, error) { return url.QueryEscape(s), nil }
		}
		one := &tmpl{parts: []tpart{p}}
		s, err := e.render(one, enc)
		if err != nil {
			return nil, "", err
		}
		if inQuery {
			query.WriteString(s)
		} else {
			path.WriteString(s)
		}
	}
	full := b.Scheme + "://" + b.Host + strings.TrimSuffix(b.EscapedPath(), "/") + path.String()
	if inQuery {
		full += "?" + query.String()
	}
	out, err := url.Parse(full)
	if err != nil {
		return nil, "", fmt.Errorf("built URL is invalid: %w", err)
	}
	// Defence in depth: whatever the values, the request stays on the
	// configured host and scheme.
	if out.Host != b.Host || out.Scheme != b.Scheme || out.User != nil {
		return nil, "", errors.New("built URL left the configured host")
	}
	return out, full, nil
}

// builtRequest is a request ready to send, plus a display form with
// secrets masked.
type builtRequest struct {
	Method  string
	URL     *url.URL
	Shown   string // the URL as built, for display
	Header  http.Header
	Body    []byte // JSON or nil
	secretH map[string]bool
}

// buildRequest renders an http step. The body is built as a value tree
// and encoded by encoding/json: no value is ever spliced into JSON text.
func buildRequest(h *HTTPStep, e *env) (*builtRequest, error) {
	u, shown, err := h.URL.buildShown(e)
	if err != nil {
		return nil, err
	}
	r := &builtRequest{Method: h.Method, URL: u, Shown: shown, Header: http.Header{}, secretH: map[string]bool{}}
	for _, hd := range h.Headers {
		v, err := e.render(hd.Value, func(s string) (string, error) {
			if strings.ContainsAny(s, "\r\n\x00") {
				return "", errors.New("a header value cannot contain a line break")
			}
			return s, nil
		})
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", hd.Name, err)
		}
		for _, rf := range hd.Value.refs() {
			if rf.ns == "secrets" {
				r.secretH[hd.Name] = true
			}
		}
		r.Header.Set(hd.Name, v)
	}
	if h.JSON != nil {
		v, err := jsonValue(h.JSON, e)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		r.Body = bytes.TrimRight(buf.Bytes(), "\n")
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("User-Agent", "warroom-playbook")
	return r, nil
}

// orderedObject encodes its keys in file order.
type orderedObject struct {
	keys []string
	vals []any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func jsonValue(j *jnode, e *env) (any, error) {
	switch j.kind {
	case kNull:
		return nil, nil
	case kBool:
		return j.b, nil
	case kInt:
		return j.i, nil
	case kFloat:
		return j.num, nil
	case kString:
		return e.value(j.str)
	case kMap:
		o := orderedObject{keys: j.keys}
		for _, c := range j.vals {
			v, err := jsonValue(c, e)
			if err != nil {
				return nil, err
			}
			o.vals = append(o.vals, v)
		}
		return o, nil
	case kSeq:
		out := make([]any, 0, len(j.vals))
		for _, c := range j.vals {
			v, err := jsonValue(c, e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, errors.New("bad body node")
}

// display renders the request as text with secret headers masked: what a
// dry run shows and what the timeline records.
func (r *builtRequest) display() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Method, r.Shown)
	for _, k := range sortedKeys(r.Header) {
		if k == "User-Agent" {
			continue
		}
		v := r.Header.Get(k)
		if r.secretH[k] {
			v = "***"
		}
		fmt.Fprintf(&b, "\n  %s: %s", k, v)
	}
	if r.Body != nil {
		fmt.Fprintf(&b, "\n  %s", r.Body)
	}
	return b.String()
}

func sortedKeys(h http.Header) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
