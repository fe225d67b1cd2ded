package main

import (
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/tui"
)

// paintFirstFrame draws the dashboard's layout from the war-room file at
// once, before the room opens (the journal is replayed, the engine and the
// sources start): bubbletea v2.0.10 draws a program's first frame only at
// the first tick of its frame timer, 1/FPS after it starts (200 ms at the
// dashboard's 5 fps), and the terminal would stay blank until then. The
// program then takes the screen over and draws its own first frame on top:
// the same layout, filled in. The returned function leaves the terminal as
// it was, for when the room fails to open and no program follows.
func paintFirstFrame(in, out *os.File, cfg *config.Config, handle string) (undo func()) {
	if !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return func() {}
	}
	w, h, err := term.GetSize(out.Fd())
	if err != nil || w <= 0 || h <= 0 {
		return func() {}
	}
	profile := colorprofile.Detect(out, os.Environ())
	frame := tui.Preview(cfg, handle, w, h, profile)
	// The alternate screen (as the program uses), cursor hidden, home.
	io.WriteString(out, "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J")
	cw := &colorprofile.Writer{Forward: out, Profile: profile}
	io.WriteString(cw, strings.ReplaceAll(frame, "\n", "\r\n"))
	return func() { io.WriteString(out, "\x1b[?25h\x1b[?1049l") }
}
