package textsafe_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/warroom/warroom/textsafe"
	"github.com/warroom/warroom/textsafe/hostile"
)

func TestLineMakesEveryHostileStringInert(t *testing.T) {
	for _, s := range hostile.Corpus {
		for name, f := range map[string]func(string) string{"Line": textsafe.Line, "Text": textsafe.Text} {
			got := f(s)
			if bad := hostile.Find([]byte(got)); bad != "" {
				t.Errorf("%s(%q) = %q: %s", name, s, got, bad)
			}
			if name == "Line" && strings.ContainsAny(got, "\r\n\t") {
				t.Errorf("Line(%q) = %q is not one line", s, got)
			}
			if !textsafe.Safe(got) && name == "Line" {
				t.Errorf("Line(%q) = %q is not Safe", s, got)
			}
			if textsafe.Safe(s) {
				t.Errorf("Safe(%q) = true", s)
			}
			// The words around the attack still arrive.
			if w := strings.Fields(s)[0]; !strings.Contains(got, w) {
				t.Errorf("%s(%q) = %q lost %q", name, s, got, w)
			}
		}
	}
}

func TestVisibleStandIns(t *testing.T) {
	for in, want := range map[string]string{
		"plain ascii":          "plain ascii",
		"a\x1b[8mb":            "a␛[8mb",
		"nul\x00":              "nul␀",
		"x\ty":                 "x y",
		"one\r\ntwo\nthree\r4": "one ⏎ two ⏎ three ⏎ 4",
		"\u202eabc":            "\uFFFDabc",
		"caf\xe9":              "caf\uFFFD",
		"del\x7f":              "del␡",
		"c1\u0085":             "c1\uFFFD",
		"naïve café ✓ 日本":      "naïve café ✓ 日本",
		"👩‍👩‍👧 ok":             "👩‍👩‍👧 ok", // ZWJ kept for emoji
		"replacement \uFFFD":   "replacement \uFFFD",
	} {
		if got := textsafe.Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
		if textsafe.Safe(in) != (in == want) {
			t.Errorf("Safe(%q) = %v", in, textsafe.Safe(in))
		}
	}
	if got := textsafe.Text("a\r\nb\rc\u2029d\te\x1b"); got != "a\nb\nc\nd\te␛" {
		t.Errorf("Text kept %q", got)
	}
	if got := textsafe.Clip("abc\x1bdef", 5); got != "abc␛…" {
		t.Errorf("Clip = %q", got)
	}
}

func TestEscapeJSONKeepsValuesAndDropsRawBytes(t *testing.T) {
	for _, s := range hostile.Corpus {
		b, err := json.Marshal(map[string]string{"text": s})
		if err != nil {
			t.Fatal(err)
		}
		esc := textsafe.EscapeJSON(b)
		if bad := hostile.Find(esc); bad != "" {
			t.Errorf("EscapeJSON(%s): %s", b, bad)
		}
		var back, orig map[string]string
		if err := json.Unmarshal(esc, &back); err != nil {
			t.Fatalf("%s: %v", esc, err)
		}
		_ = json.Unmarshal(b, &orig)
		if back["text"] != orig["text"] {
			t.Errorf("value changed: %q != %q", back["text"], orig["text"])
		}
	}
}

func BenchmarkLineASCII(b *testing.B) {
	s := "tokens p95 latency 2.3s > 1s (crit)"
	for b.Loop() {
		_ = textsafe.Line(s)
	}
}
