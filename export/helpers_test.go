package export

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name (or rewrites it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./export -run %s -update to create it)", err, t.Name())
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			out := filepath.Join(t.TempDir(), filepath.Base(name))
			_ = os.WriteFile(out, got, 0o644)
			t.Fatalf("%s differs from the golden file at line %d:\n got: %q\nwant: %q\n(whole output in %s; -update rewrites)", name, i+1, g, w, out)
		}
	}
}

// synth writes a journal by hand, event by event, for cases the engine
// cannot be steered into cheaply.
type synth struct {
	t    testing.TB
	j    *journal.SQLite
	path string
	seq  int64
}

func newSynth(t testing.TB, at time.Time, room *incident.RoomInfo) *synth {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth.db")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	s := &synth{t: t, j: j, path: path}
	setup := roles.Assignments{Commander: "maya", Services: map[string]roles.Owners{"api": {Primary: "alice"}}}
	s.add(incident.Event{Time: at, Kind: incident.KindDeclare, Actor: "warroom", Text: "synthetic incident", Setup: &setup, Room: room})
	return s
}

func (s *synth) add(ev incident.Event) int64 {
	s.t.Helper()
	s.seq++
	ev.Seq = s.seq
	if err := s.j.Append(context.Background(), []journal.Event{ev.ToJournal()}); err != nil {
		s.t.Fatal(err)
	}
	return s.seq
}

func (s *synth) samples(smp ...journal.Sample) {
	s.t.Helper()
	if err := s.j.AppendSamples(context.Background(), smp); err != nil {
		s.t.Fatal(err)
	}
}

func (s *synth) load(opt Options) *Report {
	s.t.Helper()
	r, err := Load(context.Background(), s.j, opt)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func render(t testing.TB, r *Report, f Format) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch f {
	case Markdown:
		err = r.WriteMarkdown(&b, "pm")
	case HTML:
		err = r.WriteHTML(&b)
	case JSON:
		err = r.WriteJSON(&b)
	case CSV:
		err = r.WriteCSV(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// exportAll writes every format of the journal at path into dir and
// returns the files written, by base name.
func exportAll(t testing.TB, path, dir string, opt Options) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range allFormats {
		res, err := Export(context.Background(), path, f, filepath.Join(dir, "postmortem."+string(f)), nil, opt)
		if err != nil {
			t.Fatalf("export %s: %v", f, err)
		}
		for _, name := range res.Files {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Base(name)] = b
		}
	}
	return files
}

func ptime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// allFormats lists the formats in the order the command line documents
// them.
var allFormats = []Format{Markdown, HTML, JSON, CSV}
