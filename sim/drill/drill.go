// Package drill runs `warroom drill`: the demo's war room on a calm
// launch into which an injects file puts faults (which, when, on which
// service), in a journal of its own, with the local Slack, every screen
// marked DRILL. When it ends, the people's response is scored from the
// journal (package launch) and compared with the previous drill of the
// same injects. Four injects are built in, from the launch stories:
// db-exhaustion, nat-exhaustion, rpc-lag and 504-committed.
package drill

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/launch"
	"github.com/warroom/warroom/sim"
	"github.com/warroom/warroom/sim/demo"
)

//go:embed injects/*.yaml
var builtin embed.FS

// Injects is an injects file.
type Injects struct {
	Name        string          `yaml:"name"`
	Title       string          `yaml:"title"`
	Description string          `yaml:"description"`
	Length      config.Duration `yaml:"length"` // how long after T-0 the drill runs
	Injects     []Inject        `yaml:"injects"`
	Expect      []Response      `yaml:"expect"`

	hash string
}

// Inject is one fault at a time after T-0.
type Inject struct {
	At      config.Duration `yaml:"at"`
	Fault   sim.FaultKind   `yaml:"fault"`
	Service string          `yaml:"service"`
	Size    float64         `yaml:"size"`
}

// Response is the right answer to an inject: the alert it raises on a
// pane, and the playbook (with parameters) that mitigates it.
type Response struct {
	Service  string            `yaml:"service"`
	Pane     string            `yaml:"pane"`
	Playbook string            `yaml:"playbook"`
	Params   map[string]string `yaml:"params"`
}

// Builtin lists the built-in injects' names.
func Builtin() []string {
	entries, _ := builtin.ReadDir("injects")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// maxInjectsSize bounds an injects file.
const maxInjectsSize = 64 << 10

// Load reads an injects file, or a built-in one by name.
func Load(nameOrFile string) (*Injects, error) {
	data, err := os.ReadFile(nameOrFile)
	if err != nil {
		b, berr := builtin.ReadFile("injects/" + nameOrFile + ".yaml")
		if berr != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("no injects file %q and no built-in injects of that name (%s)", nameOrFile, strings.Join(Builtin(), ", "))
			}
			return nil, err
		}
		data = b
	}
	return Parse(nameOrFile, data)
}

// Parse reads injects from data, strictly.
func Parse(name string, data []byte) (*Injects, error) {
	if len(data) > maxInjectsSize {
		return nil, fmt.Errorf("%s: larger than %d KiB", name, maxInjectsSize>>10)
	}
	var in Injects
	if err := yaml.NewDecoder(bytes.NewReader(data), yaml.Strict()).Decode(&in); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yaml.FormatError(err, false, true))
	}
	var errs []error
	if !idOK(in.Name) {
		errs = append(errs, errors.New("name: letters, digits, '.', '-', '_' (it names the drill's results)"))
	}
	if in.Length <= 0 {
		in.Length = config.Duration(6 * time.Minute)
	}
	if in.Length.D() > time.Hour {
		errs = append(errs, errors.New("length: at most 1h"))
	}
	if len(in.Injects) == 0 {
		errs = append(errs, errors.New("injects: at least one fault"))
	}
	for i, x := range in.Injects {
		if err := x.fault().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("injects[%d]: %w", i, err))
		}
		if x.At < 0 || x.At >= in.Length {
			errs = append(errs, fmt.Errorf("injects[%d].at: between 0 and the drill's length (%s)", i, in.Length))
		}
	}
	if len(in.Expect) == 0 {
		errs = append(errs, errors.New("expect: the response to score (service, pane, playbook)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", name, errors.Join(errs...))
	}
	sum := sha256.Sum256(data)
	in.hash = hex.EncodeToString(sum[:8])
	return &in, nil
}

func idOK(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return true
}

func (x Inject) fault() sim.Fault {
	return sim.Fault{Kind: x.Fault, Minute: x.At.D().Minutes(), Service: x.Service, Size: x.Size}
}

// Scenario is the calm launch with the injects' faults.
func (in *Injects) Scenario() sim.Scenario {
	s := sim.CalmScenario()
	for _, x := range in.Injects {
		s.Faults = append(s.Faults, x.fault())
	}
	return s
}

// Expects are the scored responses.
func (in *Injects) Expects() []launch.Expect {
	var out []launch.Expect
	for _, r := range in.Expect {
		out = append(out, launch.Expect{Service: r.Service, Pane: r.Pane, Playbook: r.Playbook})
	}
	return out
}

// Options for Start.
type Options struct {
	Injects *Injects
	// Dir keeps each drill's journal and result, under Dir/<injects>/.
	Dir   string
	Speed float64
	Seed  uint64
	// Headless: nobody is at a dashboard; the simulated people ack,
	// request and approve, so that the drill runs to its end.
	Headless bool
	// Human, with a dashboard, is who the person plays (default the
	// commander); the simulated owners request, the human decides.
	Human           string
	SlackTranscript io.Writer
}

// Drill is a running drill.
type Drill struct {
	*demo.Demo
	in  *Injects
	dir string
}

// DefaultDir is where drills are kept: $XDG_STATE_HOME/warroom/drills
// (~/.local/state/warroom/drills).
func DefaultDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "warroom", "drills")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "warroom-drills")
	}
	return filepath.Join(home, ".local", "state", "warroom", "drills")
}

// Start starts the simulator with the injects and the war room.
func Start(ctx context.Context, o Options) (*Drill, error) {
	in := o.Injects
	if o.Dir == "" {
		o.Dir = DefaultDir()
	}
	dir := filepath.Join(o.Dir, in.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	scn := in.Scenario()
	mits := map[string]demo.Mitigation{}
	for _, r := range in.Expect {
		mits[r.Service+"/"+r.Pane] = demo.Mitigation{Playbook: r.Playbook, Params: r.Params}
	}
	d, err := demo.Start(ctx, demo.Options{
		Speed: o.Speed, Seed: o.Seed, Human: o.Human, SlackTranscript: o.SlackTranscript,
		JournalPath: filepath.Join(dir, time.Now().UTC().Format("20060102T150405.000Z")+".db"),
		AutoAck:     o.Headless, Autopilot: o.Headless, AckDelay: 20 * time.Second,
		Scenario: &scn, Mitigations: mits, Length: in.Length.D(), Drill: in.Name,
	})
	if err != nil {
		return nil, err
	}
	return &Drill{Demo: d, in: in, dir: o.Dir}, nil
}

// Result is a finished drill: its scores and the previous drill's.
type Result struct {
	Score    *launch.Score
	Previous *launch.Score
	Saved    string // where the score was kept
	Report   string // the Markdown report beside it
}

// Finish ends the drill, scores it from its journal, keeps the score and
// compares it with the previous drill of the same injects.
func (d *Drill) Finish(ctx context.Context) (*Result, error) {
	if _, err := d.Demo.Finish(ctx); err != nil {
		return nil, err
	}
	j, err := journal.OpenReadOnly(d.Room.Journal.Path())
	if err != nil {
		return nil, err
	}
	defer j.Close()
	s, err := launch.ScoreJournal(ctx, j, d.T0, d.End.Add(2*time.Minute), d.in.Expects())
	if err != nil {
		return nil, err
	}
	s.Injects, s.Hash, s.T0 = d.in.Name, d.in.hash, d.T0.UTC()
	prev, err := launch.Previous(d.dir, s)
	if err != nil {
		return nil, err
	}
	saved, err := s.Save(d.dir)
	if err != nil {
		return nil, err
	}
	report := strings.TrimSuffix(saved, ".json") + ".md"
	var b bytes.Buffer
	if err := s.WriteMarkdown(&b, prev); err != nil {
		return nil, err
	}
	if err := os.WriteFile(report, b.Bytes(), 0o600); err != nil {
		return nil, err
	}
	return &Result{Score: s, Previous: prev, Saved: saved, Report: report}, nil
}

// Lines sum the result up for a terminal.
func (r *Result) Lines() []string {
	out := r.Score.Lines(r.Previous)
	out = append(out, "Kept: "+r.Saved, "Report: "+r.Report,
		"Timeline: warroom export --journal "+r.Score.Journal+" --format md -o drill.md")
	return slices.Clip(out)
}
