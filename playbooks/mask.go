package playbooks

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Masked replaces a secret in any text the runner writes or shows.
const Masked = "***"

// Masker removes secrets from text. It is defence in depth: secrets are
// kept out of text by construction (they go only into headers and process
// environments); the masker catches what a server or a process echoes
// back, in the forms GitHub's runner learned to catch: raw, base64 (std
// and URL alphabets, padded or not, at any byte alignment, so base64 of
// "user:" + secret is caught too), URL path and query encoding,
// JSON-escaped, and hex.
type Masker struct {
	mu    sync.RWMutex
	forms []string // longest first
}

// ErrSecretTooShort refuses a secret that cannot be masked without
// masking ordinary text.
var ErrSecretTooShort = fmt.Errorf("secret is too short to mask safely (under %d characters)", MinSecretLen)

// Add registers a secret value.
func (m *Masker) Add(secret string) error {
	if len(secret) < MinSecretLen {
		return ErrSecretTooShort
	}
	if strings.ContainsAny(secret, "\r\n") {
		return errors.New("multi-line secrets are not supported: they cannot be masked line by line")
	}
	forms := []string{secret, url.PathEscape(secret), url.QueryEscape(secret), hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret)))}
	if j, err := json.Marshal(secret); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		forms = append(forms, enc.EncodeToString([]byte(secret)), enc.WithPadding(base64.NoPadding).EncodeToString([]byte(secret)))
		forms = append(forms, base64Cores(enc, []byte(secret))...)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range forms {
		if len(f) >= 6 && !slices.Contains(m.forms, f) {
			m.forms = append(m.forms, f)
		}
	}
	slices.SortFunc(m.forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return nil
}

// base64Cores are the characters of base64(prefix + secret + suffix) that
// depend on the secret's bytes alone, for each of the three alignments
// the secret can start at. Any base64 text that encodes the secret
// somewhere inside contains one of them.
func base64Cores(enc *base64.Encoding, secret []byte) []string {
	var out []string
	for k := range 3 {
		buf := append(make([]byte, k), secret...)
		s := enc.WithPadding(base64.NoPadding).EncodeToString(buf)
		skip := (8*k + 5) / 6    // chars touching prefix bits
		full := 8 * len(buf) / 6 // chars made of complete bits
		if full > len(s) {
			full = len(s)
		}
		if full-skip >= 6 {
			out = append(out, s[skip:full])
		}
	}
	return out
}

// Mask returns s with every registered form replaced by ***.
func (m *Masker) Mask(s string) string {
	if m == nil || s == "" {
		return s
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, f := range m.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Masked)
		}
	}
	return s
}

// Contains reports whether s holds a registered form.
func (m *Masker) Contains(s string) bool {
	if m == nil {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, f := range m.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// MaskError masks an error's text.
func (m *Masker) MaskError(err error) string {
	if err == nil {
		return ""
	}
	return m.Mask(err.Error())
}

// truncate keeps at most n bytes of s (on a rune boundary), marking the
// cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !validStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n… (%d more bytes)", len(s)-cut)
}

func validStart(b byte) bool { return b&0xC0 != 0x80 }
