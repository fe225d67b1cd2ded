package playbooks

import (
	"cmp"
	"encoding/base32"
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

// FragmentLen is the shortest piece of a secret, or of one of its
// encodings, that is masked on its own: any run of at least FragmentLen
// characters of one (a 2/3 prefix, the part of a base64 line that holds
// the secret) is a leak too.
const FragmentLen = 12

// Masker removes secrets from text. It is defence in depth: secrets are
// kept out of text by construction (they go only into headers and process
// environments); the masker catches what a server or a process echoes
// back, in the forms GitHub's runner learned to catch and a few more: raw,
// base64 and base32 (every alphabet, padded or not, at any byte alignment,
// so base64 of "user:" + secret is caught too), URL path and query
// encoding, JSON-escaped, hex, and any piece of FragmentLen characters of
// one of these. A form is found across line breaks too (a secret printed
// in two halves, base64 -w 64, xxd -p), in one text and in a stream of
// lines (see lineMasker).
type Masker struct {
	mu      sync.RWMutex
	forms   []string            // longest first
	windows map[string]struct{} // every FragmentLen-character piece of a form
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
	b := []byte(secret)
	forms := []string{secret, url.PathEscape(secret), url.QueryEscape(secret), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b))}
	if j, err := json.Marshal(secret); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		forms = append(forms, enc.EncodeToString(b), enc.WithPadding(base64.NoPadding).EncodeToString(b))
		forms = append(forms, cores(enc.WithPadding(base64.NoPadding).EncodeToString, 3, 6, b)...)
	}
	for _, enc := range []*base32.Encoding{base32.StdEncoding, base32.HexEncoding} {
		for _, e := range []*base32.Encoding{enc, enc.WithPadding(base32.NoPadding)} {
			s := e.EncodeToString(b)
			forms = append(forms, s, strings.ToLower(s))
		}
		for _, c := range cores(enc.WithPadding(base32.NoPadding).EncodeToString, 5, 5, b) {
			forms = append(forms, c, strings.ToLower(c))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.windows == nil {
		m.windows = map[string]struct{}{}
	}
	for _, f := range forms {
		if len(f) >= 6 && !slices.Contains(m.forms, f) {
			m.forms = append(m.forms, f)
		}
		for i := 0; i+FragmentLen <= len(f); i++ {
			m.windows[f[i:i+FragmentLen]] = struct{}{}
		}
	}
	slices.SortFunc(m.forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return nil
}

// cores are the characters of enc(prefix + secret + suffix) that depend on
// the secret's bytes alone, for each of the group alignments the secret
// can start at (base64 encodes 3 bytes at a time with 6 bits per
// character, base32 5 bytes with 5 bits). Any text in that encoding that
// holds the secret somewhere inside contains one of them.
func cores(enc func([]byte) string, group, bits int, secret []byte) []string {
	var out []string
	for k := range group {
		buf := append(make([]byte, k), secret...)
		s := enc(buf)
		skip := (8*k + bits - 1) / bits // chars touching prefix bits
		full := min(8*len(buf)/bits, len(s))
		if full-skip >= 6 {
			out = append(out, s[skip:full])
		}
	}
	return out
}

// Mask returns s with every registered form replaced by ***, also where a
// form runs across the line breaks of s.
func (m *Masker) Mask(s string) string {
	if m == nil || s == "" {
		return s
	}
	return strings.Join(m.maskLines(strings.Split(s, "\n")), "\n")
}

// Contains reports whether s holds a registered form or fragment.
func (m *Masker) Contains(s string) bool {
	return m != nil && m.Mask(s) != s
}

// MaskError masks an error's text.
func (m *Masker) MaskError(err error) string {
	if err == nil {
		return ""
	}
	return m.Mask(err.Error())
}

// maskLines masks lines as one text joined without their breaks (and
// without a carriage return ending a line), so that a form split over
// lines is found; each part is replaced by *** on its own line.
func (m *Masker) maskLines(lines []string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.forms) == 0 {
		return lines
	}
	var joined strings.Builder
	ends := make([]int, len(lines))
	for i, l := range lines {
		joined.WriteString(strings.TrimSuffix(l, "\r"))
		ends[i] = joined.Len()
	}
	hide := m.spans(joined.String())
	if len(hide) == 0 {
		return lines
	}
	out := make([]string, len(lines))
	start := 0
	for i, l := range lines {
		text := strings.TrimSuffix(l, "\r")
		var b strings.Builder
		pos := start
		for _, h := range hide {
			lo, hi := max(h[0], start), min(h[1], ends[i])
			if lo >= hi {
				continue
			}
			b.WriteString(text[pos-start : lo-start])
			b.WriteString(Masked)
			pos = hi
		}
		b.WriteString(text[pos-start:])
		b.WriteString(l[len(text):]) // the carriage return, if any
		out[i] = b.String()
		start = ends[i]
	}
	return out
}

// spans returns the sorted, merged byte ranges of t that hold a form or a
// piece of one. The caller holds m.mu.
func (m *Masker) spans(t string) [][2]int {
	var hide [][2]int
	for _, f := range m.forms {
		for from := 0; ; {
			i := strings.Index(t[from:], f)
			if i < 0 {
				break
			}
			i += from
			hide = append(hide, [2]int{i, i + len(f)})
			from = i + 1
		}
	}
	for i := 0; i+FragmentLen <= len(t); i++ {
		if _, ok := m.windows[t[i:i+FragmentLen]]; ok {
			hide = append(hide, [2]int{i, i + FragmentLen})
		}
	}
	if len(hide) == 0 {
		return nil
	}
	slices.SortFunc(hide, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	merged := hide[:1]
	for _, h := range hide[1:] {
		if last := &merged[len(merged)-1]; h[0] <= last[1] {
			last[1] = max(last[1], h[1])
		} else {
			merged = append(merged, h)
		}
	}
	return merged
}

// openPrefix returns where in t a form may begin that t does not finish
// (t ends with a proper prefix of it, of at least 4 characters), or
// len(t): what comes before it can be shown, whatever follows.
func (m *Masker) openPrefix(t string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	at := len(t)
	for _, f := range m.forms {
		tail := t[max(0, len(t)-(len(f)-1)):]
		base := len(t) - len(tail)
		for i := 0; i+4 <= len(tail); {
			j := strings.Index(tail[i:], f[:4])
			if j < 0 {
				break
			}
			i += j
			if strings.HasPrefix(f, tail[i:]) {
				at = min(at, base+i)
				break
			}
			i++
		}
	}
	return at
}

// lineMasker masks a stream of lines (a step's output). A line that ends
// with the start of a form is held until the next line shows whether the
// form goes on there, so that a secret split over lines is masked in both.
type lineMasker struct {
	m    *Masker
	held []string
	size int
}

// maxHeld bounds what a lineMasker holds back.
const maxHeld = 64 << 10

// push adds a line and returns the lines that can be shown, masked.
func (lm *lineMasker) push(line string) []string {
	lm.held = append(lm.held, line)
	lm.size += len(line)
	masked := lm.m.maskLines(lm.held)
	if lm.size > maxHeld {
		lm.held, lm.size = nil, 0
		return masked
	}
	// Show the lines that end before an unfinished form may begin.
	var joined strings.Builder
	for _, l := range lm.held {
		joined.WriteString(strings.TrimSuffix(l, "\r"))
	}
	open := lm.m.openPrefix(joined.String())
	n, end := 0, 0
	for _, l := range lm.held {
		end += len(strings.TrimSuffix(l, "\r"))
		if end > open {
			break
		}
		n++
	}
	ready := masked[:n]
	lm.held = append([]string(nil), lm.held[n:]...)
	lm.size = 0
	for _, l := range lm.held {
		lm.size += len(l)
	}
	return ready
}

// flush returns what is still held, masked.
func (lm *lineMasker) flush() []string {
	out := lm.m.maskLines(lm.held)
	lm.held, lm.size = nil, 0
	return out
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
