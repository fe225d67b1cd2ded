package warroom_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/warroom/warroom"

// layers is DESIGN.md's diagram of import arrows, lowest first: a package
// may import packages of lower layers only, never one of its own layer or
// above. So `tui`, `mirror`, `export`, `server` → `incident` → `journal`,
// `roles`, `config`, and no arrow back. A package is placed by its path or
// the nearest parent listed (sources/prometheus is in sources' layer).
var layers = [][]string{
	{"clock", "textsafe", "journal", "docs", "examples"},
	{"config", "outbox"},
	{"roles"},
	{"incident"},
	// Readers of the engine and the edges: peers never import each other
	// (the TUI does not know the mirror, exports do not know the TUI).
	{"sources", "playbooks", "export", "mirror", "comms", "paging", "tui"},
	{"launch"},
	{"room"},
	{"server"},
	{"sim"},
	{"cmd", "bench"},
}

// onlyFrom: packages that only the listed trees may import (the
// simulator is for `warroom demo`, drills and tests, never production).
var onlyFrom = map[string][]string{
	"sim": {"sim", "cmd"},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportArrowsFollowTheDesign(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	var bad []string
	for _, p := range pkgs {
		from := strings.TrimPrefix(p.ImportPath, module+"/")
		if p.ImportPath == module {
			continue // this test
		}
		lf, tf, ok := layerOf(from)
		if !ok {
			bad = append(bad, from+": not in the diagram of arrows_test.go (place it in a layer, as DESIGN.md's diagram would)")
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := strings.TrimPrefix(imp, module+"/")
			lt, tt, ok := layerOf(to)
			switch {
			case !ok:
				continue // reported as its own package
			case tf == tt:
				// One tree (sources and sources/prometheus, sim/demo and
				// sim/slack): Go itself refuses a cycle.
			case lt >= lf:
				bad = append(bad, from+" → "+to+" (against the arrows: "+tf+" is not above "+tt+")")
			}
			if allowed, ok := onlyFrom[tt]; ok && !contains(allowed, tf) {
				bad = append(bad, from+" → "+to+" (only "+strings.Join(allowed, ", ")+" may import "+tt+")")
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// layerOf returns the layer and the tree (the listed name) of a package.
func layerOf(path string) (int, string, bool) {
	for p := path; p != "." && p != ""; p = filepath.Dir(p) {
		for i, names := range layers {
			if contains(names, p) {
				return i, p, true
			}
		}
	}
	return 0, "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
