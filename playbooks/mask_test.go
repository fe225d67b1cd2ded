package playbooks

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// maskSecret is a 32-character token like a cloud API key.
const maskSecret = "tk_live_9fQ2xZ7bK4mW8vR1nL6pT3yH"

// wrap breaks s into lines of n characters, as base64 -w and xxd -p do.
func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

// leakForms are ways a process or a server can print the secret without
// printing it whole on one line, by the form the masker must catch.
func leakForms() map[string]string {
	blob := "-----BEGIN CONFIG-----\nuser: deploy\ntoken: " + maskSecret + "\nregion: eu-west-1\n" + strings.Repeat("# padding\n", 4)
	half := len(maskSecret) / 2
	return map[string]string{
		"split over two lines":      "key part one " + maskSecret[:half] + "\n" + maskSecret[half:] + " part two",
		"split 27/5 over two lines": "token=" + maskSecret[:27] + "\n" + maskSecret[27:],
		"base64 -w 64":              wrap(base64.StdEncoding.EncodeToString([]byte(blob)), 64),
		"base64 -w 64 of the token": wrap(base64.StdEncoding.EncodeToString([]byte("Authorization: Bearer "+maskSecret)), 16),
		"xxd -p":                    wrap(hex.EncodeToString([]byte(blob)), 60),
		"base32":                    base32.StdEncoding.EncodeToString([]byte(maskSecret)),
		"base32 inside a blob":      wrap(base32.StdEncoding.EncodeToString([]byte(blob)), 76),
		"base32 lower, no padding":  strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("x" + maskSecret))),
		"a 2/3 prefix":              "the key starts " + maskSecret[:22] + "…",
		"a 12-character fragment":   "…" + maskSecret[10:22] + "…",
		"CRLF-split":                maskSecret[:9] + "\r\n" + maskSecret[9:],
	}
}

// exposed reports what of the secret a text still shows: the secret, a
// piece of FragmentLen characters, or the secret decoded from base64,
// base32 or hex once the text's line breaks are removed.
func exposed(text string) string {
	const piece = 12 // the bound, whatever FragmentLen says
	flat := strings.NewReplacer("\r", "", "\n", "").Replace(text)
	for i := 0; i+piece <= len(maskSecret); i++ {
		if strings.Contains(flat, maskSecret[i:i+piece]) {
			return "the fragment " + maskSecret[i:i+piece]
		}
	}
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base32.StdEncoding.DecodeString, hex.DecodeString,
		func(s string) ([]byte, error) {
			return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(s))
		},
	} {
		for start := 0; start < len(flat); start++ {
			// Decode from each start position: the encoding may sit
			// after other text.
			b, err := dec(flat[start:])
			if err == nil && strings.Contains(string(b), maskSecret[:piece]) {
				return "an encoding of the secret"
			}
		}
	}
	return ""
}

// TestMaskForms: every leak form is masked in one text (Mask) and in a
// stream of lines (a step's output), and what is left holds no fragment
// and decodes to no secret.
func TestMaskForms(t *testing.T) {
	m := &Masker{}
	if err := m.Add(maskSecret); err != nil {
		t.Fatal(err)
	}
	for name, text := range leakForms() {
		if exposed(text) == "" {
			t.Fatalf("%s: the test's own check sees no secret in %q", name, text)
		}
		if got := m.Mask(text); exposed(got) != "" || !strings.Contains(got, Masked) {
			t.Errorf("Mask, %s: %s left in\n%s", name, exposed(got), got)
		}
		lm := lineMasker{m: m}
		var shown []string
		for _, l := range strings.Split(text, "\n") {
			shown = append(shown, lm.push(l)...)
		}
		shown = append(shown, lm.flush()...)
		got := strings.Join(shown, "\n")
		if exposed(got) != "" || len(shown) != strings.Count(text, "\n")+1 {
			t.Errorf("stream, %s: %s left in %d lines\n%s", name, exposed(got), len(shown), got)
		}
	}
	// Ordinary text is left alone, line by line, at once.
	lm := lineMasker{m: m}
	for _, l := range []string{"deploying tokens v2.3.1", "tk_live is the prefix of live keys", "done"} {
		if got := lm.push(l); len(got) != 1 || got[0] != l {
			t.Errorf("ordinary line %q came out as %q", l, got)
		}
	}
}

// TestStepOutputMasksEveryForm: a process that prints its secret split
// over lines, as base64 -w 64, as hex wrapped like xxd -p, as base32 and
// as a 2/3 prefix: none of it reaches the timeline, the streamed output
// or the logs.
func TestStepOutputMasksEveryForm(t *testing.T) {
	t.Setenv("LEAK_TOKEN", maskSecret)
	pb := `id: leakforms
title: Print a secret every way a tool might
service: tokens
description: a process that leaks its secret in many forms
risk: low
lock: {name: leakforms, timeout: 5m}
secrets:
  tok: ${LEAK_TOKEN}
steps:
  - id: print
    read_only: true
    exec:
      argv:
        - /bin/sh
        - -c
        - |
          printf 'first half %s\n' "$(printf %s "$TOK" | cut -c1-16)"
          printf '%s second half\n' "$(printf %s "$TOK" | cut -c17-)"
          printf 'user: deploy\ntoken: %s\nregion: eu\n' "$TOK" | base64 -w 64
          printf 'token: %s\n' "$TOK" | od -An -v -tx1 | tr -d ' \n' | fold -w 60; echo
          printf '%s' "$TOK" | base32
          printf 'prefix %s\n' "$(printf %s "$TOK" | cut -c1-22)"
      secret_env: {TOK: tok}
`
	rg := newRig(t, rigOptions{playbooks: map[string]string{"leakforms.yaml": pb}})
	h, err := rg.r.Request(context.Background(), tokensOwn, "leakforms", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	run := rg.waitState(h.ID, incident.RunSucceeded, 5*time.Second)
	kept := ""
	for _, ev := range rg.state().Recent {
		if ev.Run != nil && ev.Run.ID == h.ID {
			kept += ev.Run.Output + "\n" + ev.Text + "\n"
		}
	}
	for where, text := range map[string]string{"the timeline": kept, "streamed output": rg.outputs.all(), "logs": rg.logs.all(), "the run": run.Output} {
		if e := exposed(text); e != "" {
			t.Errorf("%s shows %s:\n%s", where, e, text)
		}
	}
	if !strings.Contains(rg.outputs.all(), "first half "+Masked) || !strings.Contains(rg.outputs.all(), Masked+" second half") {
		t.Errorf("the split secret is not masked on both lines:\n%s", rg.outputs.all())
	}
}
