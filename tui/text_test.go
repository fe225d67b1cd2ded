package tui

import (
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// The fast width must agree with ansi for everything the UI draws.
func TestWidthAgreesWithAnsi(t *testing.T) {
	var all []rune
	for _, rg := range [][2]rune{{0x20, 0x7e}, {0xa0, 0x2ff}, {0x2010, 0x2027}, {0x2190, 0x21ff}, {0x2500, 0x25ff}, {0x2800, 0x28ff}} {
		for r := rg[0]; r <= rg[1]; r++ {
			all = append(all, r)
		}
	}
	all = append(all, '✓', '✗', '⚑', '★', '⚠', '⏎', 'µ', '•', '\uE000')
	for _, r := range all {
		s := string(r)
		if got, want := width(s), ansi.StringWidth(s); got != want {
			t.Errorf("%U %q: width %d, ansi %d", r, s, got, want)
		}
	}
	for _, s := range []string{"\x1b[1;38;2;1;2;3mCRIT\x1b[m x", "日本語", "e\u0301", "a\x1b]8;;http://x\x07link\x1b]8;;\x07", "👍🏽 ok", "tab\there"} {
		if got, want := width(s), ansi.StringWidth(s); got != want {
			t.Errorf("%q: width %d, ansi %d", s, got, want)
		}
	}
}

func TestFitAndSpread(t *testing.T) {
	if got := fit("hello world", 8); got != "hello w…" {
		t.Fatalf("fit: %q", got)
	}
	if got := fit("hi", 4); got != "hi  " {
		t.Fatalf("fit pads: %q", got)
	}
	if got := spread("left", "right", 12); got != "left   right" {
		t.Fatalf("spread: %q", got)
	}
	if got := width(spread("a very long left side", "right", 12)); got != 12 {
		t.Fatalf("spread width %d", got)
	}
}

func TestFuzzy(t *testing.T) {
	if _, ok := fuzzy("akt", "Ack the oldest alert of Tokens"); !ok {
		t.Fatal("subsequence should match")
	}
	if _, ok := fuzzy("zz", "Ack"); ok {
		t.Fatal("no match")
	}
	a, _ := fuzzy("time", "Go to timeline")
	b, _ := fuzzy("time", "Mark the selected timeline event important")
	if a <= b {
		t.Fatalf("shorter, tighter match should win: %d vs %d", a, b)
	}
}

func TestSparklineAndChart(t *testing.T) {
	if got := sparkline([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 8); got != "▁▂▃▄▅▆▇█" {
		t.Fatalf("sparkline %q", got)
	}
	if got := sparkline([]float64{1, 1}, 4); got != "  ▄▄" {
		t.Fatalf("flat, right-aligned: %q", got)
	}
	lines, lo, hi := brailleChart([]float64{0, 10}, 4, 2, []hline{{v: 5, label: "w"}}, paint{})
	if len(lines) != 2 || lo > 0 || hi < 10 {
		t.Fatalf("chart %q %v %v", lines, lo, hi)
	}
	for _, l := range lines {
		if width(l) != 4 {
			t.Fatalf("chart line %q is not 4 wide", l)
		}
	}
}

func TestGridLayout(t *testing.T) {
	for _, c := range []struct{ n, w, h, cols int }{{8, 80, 20, 2}, {8, 120, 36, 3}, {40, 200, 56, 6}, {1, 80, 20, 1}} {
		g := gridLayout(c.n, c.w, c.h)
		if g.cols != c.cols {
			t.Errorf("%d panes at %dx%d: %d columns, want %d", c.n, c.w, c.h, g.cols, c.cols)
		}
		if g.visRows*minCellH > c.h {
			t.Errorf("%d rows do not fit", g.visRows)
		}
	}
	// 40 panes at 80×20 scroll.
	g := gridLayout(40, 80, 20)
	if g.visRows >= g.rows {
		t.Fatalf("expected scrolling: %+v", g)
	}
	if top := g.scrollFor(39, 0); top != g.rows-g.visRows {
		t.Fatalf("scroll to last: %d", top)
	}
}

func TestTruncateAgreesWithAnsi(t *testing.T) {
	for _, s := range []string{
		"hello world", "\x1b[1mbold text here\x1b[m and more", "┏━ Tokens · tomas ━━━━ CRIT ━┓",
		"\x1b[38;2;1;2;3m⢀⣀⡤⠤⠤\x1b[m tail \x1b[1mX\x1b[m", "日本語のテキスト", "short",
	} {
		for w := 1; w < 20; w++ {
			got, want := truncate(s, w), ansi.Truncate(s, w, "…")
			if width(s) <= w {
				continue
			}
			if got != want && ansi.Strip(got) != ansi.Strip(want) {
				t.Errorf("truncate(%q, %d) = %q, ansi %q", s, w, got, want)
			}
			if width(got) > w || (width(got) < w && ansi.StringWidth(s) == len([]rune(ansi.Strip(s)))) {
				t.Errorf("truncate(%q, %d) is %d wide", s, w, width(got))
			}
		}
	}
}
