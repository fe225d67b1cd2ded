package tui

import (
	"io"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	uv "github.com/charmbracelet/ultraviolet"
)

// BenchmarkRendererFrame is what bubbletea v2.0.10's renderer does with a
// frame that differs from the last one (cursedRenderer.flush): parse the
// whole frame string into cells, then diff them against the screen and
// write the changes. Here consecutive frames differ only in the header
// clock (the 1 s tick) of the 40-pane overview at 200×60 in full colour,
// so this is the upstream cost of a clock second, beside our own View.
func BenchmarkRendererFrame(b *testing.B) {
	f := bench40()
	m := New(Options{Engine: f, Handle: "tomas", Width: 200, Height: 60, Profile: colorprofile.TrueColor, NoTick: true})
	st, sub, _ := f.Subscribe(b.Context(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	frames := make([]string, 2)
	for i := range frames {
		m.Update(tickMsg{now: tNow.Add(time.Duration(i) * time.Second)})
		frames[i] = m.View().Content
	}
	if frames[0] == frames[1] {
		b.Fatal("the two frames are the same")
	}
	buf := uv.NewScreenBuffer(200, 60)
	scr := uv.NewTerminalRenderer(io.Discard, []string{"TERM=xterm-256color"})
	scr.SetColorProfile(colorprofile.TrueColor)
	scr.SetFullscreen(true)
	scr.Resize(200, 60)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Clear()
		uv.NewStyledString(frames[i%2]).Draw(buf, buf.Bounds())
		scr.Render(buf.RenderBuffer)
		if err := scr.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}
