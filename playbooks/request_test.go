package playbooks

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

const builderStep = `id: b
title: builder
service: tokens
description: d
risk: low
lock: {name: b}
vars: {base: {env: BUILDER_BASE}}
params:
  - {name: fn, type: string, description: f, pattern: ".*", max_len: 1024}
  - {name: n, type: int, description: n, min: -1000, max: 1000}
steps:
  - id: apply
    http:
      method: PUT
      url: "{{vars.base}}/admin/lambda/{{params.fn}}/concurrency?who={{params.fn}}&n={{params.n}}"
      json: {name: "{{params.fn}}", n: "{{params.n}}", label: "fn={{params.fn}}", rest: "{{1000 - params.n}}", fixed: [1, true, null, "x"]}
rollback:
  - {id: r, note: "undo"}
`

func builder(t testing.TB) (*Playbook, *HTTPStep) {
	t.Helper()
	pb, err := Parse("b.yaml", []byte(builderStep), nil)
	if err != nil {
		t.Fatal(err)
	}
	return pb, pb.Steps[0].HTTP
}

func build(h *HTTPStep, base, fn string, n int64) (*builtRequest, error) {
	e := &env{params: map[string]any{"fn": fn, "n": n}, vars: map[string]string{"base": base}, saves: map[string]map[string]any{}}
	return buildRequest(h, e)
}

func TestBuildRequestEscapes(t *testing.T) {
	_, h := builder(t)
	r, err := build(h, "http://127.0.0.1:8128/sim/", `a/b?c=d#e "x"`, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.URL.String(); got != `http://127.0.0.1:8128/sim/admin/lambda/a%2Fb%3Fc=d%23e%20%22x%22/concurrency?who=a%2Fb%3Fc%3Dd%23e+%22x%22&n=7` {
		t.Fatalf("url %s", got)
	}
	if string(r.Body) != `{"name":"a/b?c=d#e \"x\"","n":7,"label":"fn=a/b?c=d#e \"x\"","rest":993,"fixed":[1,true,null,"x"]}` {
		t.Fatalf("body %s", r.Body)
	}
	for _, v := range []string{"", ".", ".."} {
		if _, err := build(h, "http://127.0.0.1:8128", v, 1); err == nil {
			t.Errorf("path value %q accepted", v)
		}
	}
	for _, base := range []string{"ftp://x", "http://user:pw@h", "http://h/?q=1", "/relative", "http://"} {
		if _, err := build(h, base, "x", 1); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
}

func TestURLTemplateRules(t *testing.T) {
	bad := map[string]string{
		"{{params.host}}/x":                 "starts with a literal",
		"http://{{params.host}}/x":          "starts with a literal",
		"http://example.com{{params.p}}":    "host must be written out",
		"{{vars.base}}{{params.p}}":         "continues with / or ?",
		"{{vars.base}}/../x":                ". or .. segment",
		"{{vars.base}}/x#frag":              "",
		"{{vars.base}}/x/{{secrets.token}}": "secrets cannot go into a URL",
		"{{vars.base}}/a b":                 "must be escaped",
	}
	for u, want := range bad {
		_, err := parseURLTemplate(u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", u, want, err)
		}
	}
}

// FuzzBuildRequest: whatever a parameter holds, the request stays on the
// configured host, each path hole stays one segment that decodes back to
// the value, the query value decodes back to it, and the body is valid
// JSON holding the value as a string.
func FuzzBuildRequest(f *testing.F) {
	_, h := builder(f)
	for _, s := range hostile {
		if len(s) > 8<<10 {
			s = s[:5000]
		}
		f.Add(s, int64(5))
	}
	f.Add("tokens", int64(-3))
	f.Add("@evil.example.com", int64(1))
	f.Add("//evil.example.com/x", int64(1))
	f.Add("%00", int64(1))
	f.Add("\\..\\", int64(1))
	f.Fuzz(func(t *testing.T, fn string, n int64) {
		const base = "http://127.0.0.1:8128/sim"
		r, err := build(h, base, fn, n)
		if err != nil {
			if fn == "" || fn == "." || fn == ".." || n > 1<<62 || n < -(1<<62) {
				return
			}
			t.Fatalf("refused %q: %v", fn, err)
		}
		if r.URL.Scheme != "http" || r.URL.Host != "127.0.0.1:8128" || r.URL.User != nil || r.URL.Fragment != "" {
			t.Fatalf("left the host: %s", r.URL)
		}
		raw := r.URL.EscapedPath()
		segs := strings.Split(strings.TrimPrefix(raw, "/"), "/")
		if len(segs) != 5 || segs[0] != "sim" || segs[1] != "admin" || segs[2] != "lambda" || segs[4] != "concurrency" {
			t.Fatalf("path %q does not keep the value in one segment", raw)
		}
		dec, err := url.PathUnescape(segs[3])
		if err != nil || dec != fn {
			t.Fatalf("segment %q decodes to %q, not %q", segs[3], dec, fn)
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil || q.Get("who") != fn || len(q) != 2 {
			t.Fatalf("query %q: %v %v", r.URL.RawQuery, q, err)
		}
		if !json.Valid(r.Body) {
			t.Fatalf("invalid JSON body %q", r.Body)
		}
		var body struct {
			Name string `json:"name"`
			N    int64  `json:"n"`
			Rest int64  `json:"rest"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(fn) && body.Name != fn {
			t.Fatalf("body name %q, want %q", body.Name, fn)
		}
		if body.N != n || body.Rest != 1000-n {
			t.Fatalf("numbers %d %d", body.N, body.Rest)
		}
	})
}
