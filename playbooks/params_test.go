package playbooks

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const typedPlaybook = `id: typed
title: every parameter type
service: tokens
description: parameters
risk: low
lock: {name: typed}
params:
  - {name: pct, type: int, description: p, min: 0, max: 100, step: 10}
  - {name: ratio, type: float, description: r, min: 0.5, max: 2.5, step: 0.25, default: 1}
  - {name: mode, type: enum, description: m, values: [monitor, challenge, block]}
  - {name: dry, type: bool, description: d, default: false}
  - {name: fn, type: string, description: f, pattern: "[a-z][a-z0-9-]*", max_len: 32, default: tokens}
steps:
  - id: n
    note: "{{params.pct}} {{params.ratio}} {{params.mode}} {{params.dry}} {{params.fn}}"
`

func typed(t testing.TB) *Playbook {
	t.Helper()
	pb, err := Parse("typed.yaml", []byte(typedPlaybook), nil)
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// hostile are values that must never reach a shell or escape a field.
var hostile = []string{
	"; touch /tmp/warroom-canary",
	"$(touch /tmp/warroom-canary)",
	"`touch /tmp/warroom-canary`",
	"'\"",
	"x\ntouch /tmp/warroom-canary",
	"x\r\nInjected: 1",
	"-rf",
	"../../etc/passwd",
	"..",
	"%2F..%2Fadmin",
	"a/b",
	"\u202egnp.exe",
	"a\x00b",
	"a\u200bb",
	strings.Repeat("A", 1<<20),
	"<!channel>",
	`"}`,
	"\xff\xfe",
	"1e3",
	"0x10",
	"+5",
	"NaN",
	"Inf",
	"",
}

func TestValidateParams(t *testing.T) {
	pb := typed(t)
	v, err := pb.ValidateParams(map[string]string{"pct": "80", "mode": "block"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Typed["pct"] != int64(80) || v.Typed["ratio"] != 1.0 || v.Typed["dry"] != false || v.Typed["fn"] != "tokens" {
		t.Fatalf("%#v", v.Typed)
	}
	if got := pb.Summary(v); got != `pct=80 ratio=1 mode=block dry=false fn="tokens"` {
		t.Fatalf("summary %s", got)
	}
	bad := map[string]map[string]string{
		"step of 10":     {"pct": "85", "mode": "block"},
		"out of bounds":  {"pct": "110", "mode": "block"},
		"not an integer": {"pct": "8.0", "mode": "block"},
		"not allowed":    {"pct": "80", "mode": "off"},
		"required":       {"mode": "block"},
		"no such":        {"pct": "80", "mode": "block", "pcnt": "1"},
		"not a step":     {"pct": "80", "mode": "block", "ratio": "0.6"},
		"true or false":  {"pct": "80", "mode": "block", "dry": "yes"},
		"does not match": {"pct": "80", "mode": "block", "fn": "Tokens"},
		"too long":       {"pct": "80", "mode": "block", "fn": strings.Repeat("a", 33)},
		"must not start": {"pct": "80", "mode": "block", "fn": "-rf"},
		"plain decimal":  {"pct": "80", "mode": "block", "ratio": "1e0"},
		"control char":   {"pct": "80", "mode": "block", "fn": "a\nb"},
	}
	for want, raw := range bad {
		_, err := pb.ValidateParams(raw)
		var pe *ParamError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want an error saying %q, got %v", raw, want, err)
		}
	}
	// Every problem at once.
	_, err = pb.ValidateParams(map[string]string{"pct": "85", "mode": "off", "dry": "1"})
	var pe *ParamError
	if !errors.As(err, &pe) || len(pe.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	// Hostile values are refused for every type.
	for _, h := range hostile {
		for _, name := range []string{"pct", "ratio", "mode", "fn"} {
			raw := map[string]string{"pct": "80", "mode": "block", name: h}
			if _, err := pb.ValidateParams(raw); err == nil {
				t.Errorf("%s=%q accepted", name, h)
			} else if strings.Contains(err.Error(), "\n") || (len(h) > 64 && strings.Contains(err.Error(), h)) {
				t.Errorf("the error echoes the raw value: %q", err.Error())
			}
		}
	}
}

func TestHashBindsParametersAndFile(t *testing.T) {
	pb := typed(t)
	a, _ := pb.ValidateParams(map[string]string{"pct": "80", "mode": "block"})
	b, _ := pb.ValidateParams(map[string]string{"pct": "80", "mode": "block", "ratio": "1.0", "fn": "tokens", "dry": "false"})
	c, _ := pb.ValidateParams(map[string]string{"pct": "90", "mode": "block"})
	if pb.Hash(a) != pb.Hash(b) {
		t.Fatal("explicit defaults change the hash")
	}
	if pb.Hash(a) == pb.Hash(c) {
		t.Fatal("different parameters, same hash")
	}
	edited, _ := Parse("typed.yaml", []byte(typedPlaybook+"\n# edited\n"), nil)
	if edited.Hash(a) == pb.Hash(a) {
		t.Fatal("an edited playbook keeps the approval hash")
	}
}

// FuzzValidate: whatever the input, validation never panics, and what
// it accepts is within the declared type, bounds and pattern, free of
// control characters, and round-trips through its canonical text.
func FuzzValidate(f *testing.F) {
	pb := typed(f)
	for _, h := range hostile {
		if len(h) > 8<<10 {
			h = h[:5000] // over every limit, small enough to mutate
		}
		f.Add("pct", h)
		f.Add("fn", h)
	}
	f.Add("pct", "80")
	f.Add("ratio", "2.25")
	f.Add("mode", "block")
	f.Add("fn", "tokens-2")
	f.Fuzz(func(t *testing.T, name, value string) {
		raw := map[string]string{"pct": "50", "mode": "monitor", name: value}
		v, err := pb.ValidateParams(raw)
		if err != nil {
			if !strings.Contains(err.Error(), "bad parameters") {
				t.Fatalf("unexpected error shape: %v", err)
			}
			return
		}
		for _, p := range pb.Params {
			txt := v.Text[p.Name]
			if hygiene(txt) != nil || !utf8.ValidString(txt) {
				t.Fatalf("%s: accepted %q", p.Name, txt)
			}
			switch x := v.Typed[p.Name].(type) {
			case int64:
				if x < p.IntMin || x > p.IntMax || (x-p.IntMin)%p.IntStep != 0 {
					t.Fatalf("%s=%d out of bounds", p.Name, x)
				}
			case float64:
				if x < p.Min || x > p.Max {
					t.Fatalf("%s=%v out of bounds", p.Name, x)
				}
			case string:
				if p.Type == TypeString && (!p.Pattern.MatchString(x) || len([]rune(x)) > p.MaxLen || strings.HasPrefix(x, "-")) {
					t.Fatalf("%s=%q violates its pattern", p.Name, x)
				}
			}
		}
		again, err := pb.ValidateParams(v.Text)
		if err != nil || pb.Hash(again) != pb.Hash(v) {
			t.Fatalf("canonical values do not validate to the same hash: %v", err)
		}
	})
}
