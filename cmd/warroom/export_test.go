package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// exportFixture writes a small journal: a declaration, an alert with its
// ack and resolution, a note, and samples for one pane.
func exportFixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "warroom.db")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	t0 := time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC)
	setup := roles.Assignments{Commander: "maya", Services: map[string]roles.Owners{"tokens": {Primary: "alice"}}}
	room := &incident.RoomInfo{Services: []incident.ServiceInfo{{ID: "tokens", Name: "Tokens",
		Panes: []incident.PaneInfo{{ID: "p95", Title: "p95 latency", Unit: "s"}}}}}
	alert := &incident.AlertInfo{ID: "A2", Pane: "p95", Level: incident.LevelCrit, Origin: "rule", Value: 2.3, Threshold: 1, Unit: "s"}
	evs := []incident.Event{
		{Time: t0, Kind: incident.KindDeclare, Actor: "warroom", Text: "airdrop", Setup: &setup, Room: room},
		{Time: t0.Add(time.Minute), Kind: incident.KindAlert, Actor: "rule", Service: "tokens", Text: "p95 latency 2.3s > 1s (crit)", Alert: alert},
		{Time: t0.Add(2 * time.Minute), Kind: incident.KindAck, Actor: "alice", Service: "tokens", Text: "alice acked A2", Alert: alert},
		{Time: t0.Add(3 * time.Minute), Kind: incident.KindNote, Actor: "maya", Text: "<b>cut timeouts</b>"},
		{Time: t0.Add(5 * time.Minute), Kind: incident.KindResolve, Actor: "rule", Service: "tokens", Text: "back to 300ms", Alert: alert},
	}
	var rows []journal.Event
	for _, e := range evs {
		rows = append(rows, e.ToJournal())
	}
	if err := j.Append(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	var smp []journal.Sample
	for i := 0; i < 20; i++ {
		smp = append(smp, journal.Sample{Service: "tokens", Pane: "p95", Time: t0.Add(time.Duration(i) * 15 * time.Second), Value: 0.3 + float64(i%5)/2})
	}
	if err := j.AppendSamples(context.Background(), smp); err != nil {
		t.Fatal(err)
	}
	return path
}

func runExport(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"export"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExportCommand(t *testing.T) {
	jpath := exportFixture(t)
	dir := t.TempDir()

	// Markdown to a file: the document and its chart beside it.
	md := filepath.Join(dir, "postmortem.md")
	if code, _, stderr := runExport(t, "--journal", jpath, "--format", "md", "-o", md); code != exitOK {
		t.Fatalf("md: exit %d: %s", code, stderr)
	}
	body, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "# Postmortem: airdrop") || !strings.Contains(string(body), "](postmortem-tokens.svg)") {
		t.Errorf("Markdown:\n%s", body)
	}
	if _, err := os.Stat(filepath.Join(dir, "postmortem-tokens.svg")); err != nil {
		t.Errorf("chart not written beside the Markdown: %v", err)
	}

	// Every format, to stdout, with filters.
	for _, f := range []string{"md", "html", "json", "csv"} {
		code, stdout, stderr := runExport(t, "--journal", jpath, "--format", f, "--service", "tokens",
			"--from", "2026-01-31T15:00:30Z", "--to", "2026-01-31T15:10:00Z")
		if code != exitOK || stdout == "" {
			t.Errorf("%s to stdout: exit %d: %s", f, code, stderr)
		}
		if strings.Contains(stdout, "<b>cut timeouts</b>") {
			t.Errorf("%s: an incident-wide note passed --service, or was not escaped", f)
		}
	}
	if code, stdout, _ := runExport(t, "--journal", jpath, "--format", "csv", "--important"); code != exitOK || strings.Count(stdout, "\n") != 1 {
		t.Errorf("--important with nothing marked: exit %d, %q", code, stdout)
	}

	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"unknown format", []string{"--journal", jpath, "--format", "pdf"}, exitUsage},
		{"bad --from", []string{"--journal", jpath, "--from", "yesterday"}, exitUsage},
		{"--from after --to", []string{"--journal", jpath, "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"}, exitUsage},
		{"unknown zone", []string{"--journal", jpath, "--tz", "Mars/Olympus"}, exitUsage},
		{"no --journal", []string{"--format", "md"}, exitUsage},
		{"stray argument", []string{"--journal", jpath, "extra"}, exitUsage},
		{"missing journal", []string{"--journal", filepath.Join(dir, "nope.db")}, exitRuntime},
		{"not a journal", []string{"--journal", md}, exitBadInput},
		{"unknown service", []string{"--journal", jpath, "--service", "nope"}, exitBadInput},
		{"output over the journal", []string{"--journal", jpath, "--format", "csv", "-o", jpath}, exitBadInput},
		{"unwritable output", []string{"--journal", jpath, "-o", filepath.Join(dir, "no", "such", "dir", "pm.md")}, exitRuntime},
	} {
		code, _, stderr := runExport(t, c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (%s)", c.name, code, c.code, stderr)
		}
		if code != exitOK && strings.TrimSpace(stderr) == "" {
			t.Errorf("%s: no message on stderr", c.name)
		}
	}
	if code, _, stderr := runExport(t, "--journal", jpath, "--format", "csv"); code != exitOK {
		t.Fatalf("the journal was damaged by the refused export: %s", stderr)
	}
}
