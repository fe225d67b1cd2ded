package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParse: Parse never panics; a failure is always *Errors with real,
// sorted, one-line positions that carry no credential; a success is a
// config whose references resolve and whose defaults are applied.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	files = append(files, "../examples/airdrop/warroom.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T: %v", err, err)
			}
			checkWellFormed(t, errs)
			return
		}
		if c.Incident.Name == "" || len(c.Services) == 0 || c.Person(c.Roles.Commander) == nil {
			t.Fatalf("invalid config accepted: %+v", c)
		}
		if c.Escalation.Backup <= 0 || c.Escalation.Commander < c.Escalation.Backup {
			t.Fatalf("escalation %+v", c.Escalation)
		}
		ids := map[string]bool{}
		for _, s := range c.Sources {
			if s.Interval <= 0 || s.Timeout <= 0 || ids[s.ID] {
				t.Fatalf("source %+v", s)
			}
			ids[s.ID] = true
		}
		for _, s := range c.Services {
			for _, p := range s.Panes {
				src := c.Source(p.Source)
				if src == nil || p.Query == "" || p.Direction == "" {
					t.Fatalf("pane %+v", p)
				}
				if src.Type == SourceRPC && !slices.Contains(RPCMetrics, p.Query) {
					t.Fatalf("rpc pane %+v", p)
				}
			}
		}
	})
}
