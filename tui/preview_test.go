package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// TestPreviewDrawsTheLayoutFromTheFile: before the room is open, the
// first frame is the overview of the war-room file, every pane waiting
// (never OK), the owners the file names, and the status line says the
// engine is not there yet.
func TestPreviewDrawsTheLayoutFromTheFile(t *testing.T) {
	cfg := fixtureConfig()
	v := ansi.Strip(Preview(cfg, "tomas", 120, 40, colorprofile.ASCII))
	lines := strings.Split(v, "\n")
	if len(lines) != 40 {
		t.Fatalf("%d lines, want 40", len(lines))
	}
	for _, want := range []string{"1 Overview", "Tokens · tomas", "History · hana", "[NO DATA]", "waiting for the first answer", "connecting to the engine"} {
		if !strings.Contains(v, want) {
			t.Errorf("preview lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "[OK]") || strings.Contains(v, "no owner") {
		t.Errorf("the preview claims what it cannot know:\n%s", v)
	}
}
