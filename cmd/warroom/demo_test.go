package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// TestDemoWithoutAutopilotEndsWithASummary: with nobody at the dashboard
// and --autopilot=false, the owners still request their mitigations,
// nobody approves them, the demo ends with its story and prints a
// summary with the export command, and no event was ever written in the
// commander's name (the commander is the human, who did nothing).
func TestDemoWithoutAutopilotEndsWithASummary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole simulated launch")
	}
	path := filepath.Join(t.TempDir(), "demo.db")
	code, out, errs := runCLI("demo", "--headless", "--autopilot=false", "--for", "12m", "--speed", "30", "--journal", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var summary []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "= ") {
			summary = append(summary, l)
		} else if len(summary) > 0 {
			t.Fatalf("an event line after the summary: %q", l)
		}
	}
	text := strings.Join(summary, "\n")
	for _, want := range []string{"= The launch story has ended at T+00:10:", "= Alerts: ", "= Mitigations: ", "still awaiting approval at the end",
		"= Postmortem: warroom export --journal " + path + " --format md"} {
		if !strings.Contains(text, want) {
			t.Fatalf("summary lacks %q:\n%s", want, text)
		}
	}
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	requests := 0
	err = j.Replay(context.Background(), 0, func(je journal.Event) error {
		if je.Actor == "rosa" {
			t.Errorf("written in the human's name: #%d %s", je.Seq, je.Kind)
		}
		if ev, err := incident.FromJournal(je); err == nil && ev.Run != nil && ev.Run.State == incident.RunRequested {
			requests++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if requests < 3 {
		t.Fatalf("the simulated owners requested %d mitigations without the autopilot", requests)
	}
}

// cancelAfterLines cancels once n lines were written: Ctrl-C mid-run.
type cancelAfterLines struct {
	strings.Builder
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfterLines) Write(p []byte) (int, error) {
	if w.n -= strings.Count(string(p), "\n"); w.n <= 0 {
		w.cancel()
	}
	return w.Builder.Write(p)
}

// TestDemoInterruptedKeepsItsJournal: a demo stopped before its story
// ends keeps its temporary journal and says how to export it (it was
// deleted with nothing said).
func TestDemoInterruptedKeepsItsJournal(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelAfterLines{n: 3, cancel: cancel}
	var errb strings.Builder
	if code := run(ctx, []string{"demo", "--headless", "--speed", "20"}, out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	text := out.String()
	i := strings.Index(text, "Postmortem: warroom export --journal ")
	if i < 0 {
		t.Fatalf("no export command after an interrupted demo:\n%s", text)
	}
	path := strings.Fields(text[i+len("Postmortem: warroom export --journal "):])[0]
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("the journal it names: %v", err)
	}
	j.Close()
}
