package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// EnvRef is one environment variable a file needs: a ${NAME} in a value,
// or a playbook var's `env: NAME` without a default.
type EnvRef struct {
	File      string
	Line, Col int
	Path      string // the field path, e.g. sources[1].api_key
	Name      string
}

// String is file:line:col: path: ${NAME}.
func (r EnvRef) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: ${%s}", r.File, r.Line, r.Col, r.Path, r.Name)
}

// ScanEnvRefs lists the environment variables a YAML file refers to, in
// file order. Comments are not read; a file that does not parse gives
// none (check reports it).
func ScanEnvRefs(file string, data []byte) []EnvRef {
	if len(data) > MaxFileSize {
		return nil
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil
	}
	var out []EnvRef
	var walk func(n ast.Node, path string, depth int)
	walk = func(n ast.Node, path string, depth int) {
		if n == nil || depth > 64 {
			return
		}
		switch x := n.(type) {
		case *ast.DocumentNode:
			walk(x.Body, path, depth+1)
		case *ast.MappingNode:
			// A playbook var {env: NAME} needs NAME unless it has a default.
			var env ast.Node
			hasDefault := false
			for _, mv := range x.Values {
				k, _ := keyString(mv.Key)
				switch k {
				case "env":
					env = mv.Value
				case "default":
					hasDefault = true
				}
			}
			if s, ok := env.(*ast.StringNode); ok && !hasDefault && bareName.MatchString(s.Value) {
				line, col := nodePos(s)
				out = append(out, EnvRef{File: file, Line: line, Col: col, Path: joinPath(path, "env"), Name: s.Value})
			}
			for _, mv := range x.Values {
				if k, _ := keyString(mv.Key); k == "env" {
					continue
				}
				walk(mv, path, depth+1)
			}
		case *ast.MappingValueNode:
			walk(x.Value, joinPath(path, keyText(x.Key)), depth+1)
		case *ast.SequenceNode:
			for i, v := range x.Values {
				walk(v, fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		case *ast.AnchorNode:
			walk(x.Value, path, depth+1)
		case *ast.TagNode:
			walk(x.Value, path, depth+1)
		case *ast.StringNode:
			out = append(out, refsIn(file, x, x.Value, path)...)
		case *ast.LiteralNode:
			if x.Value != nil {
				out = append(out, refsIn(file, x, x.Value.Value, path)...)
			}
		}
	}
	for _, doc := range f.Docs {
		walk(doc, "", 0)
	}
	return out
}

func refsIn(file string, n ast.Node, s, path string) []EnvRef {
	var out []EnvRef
	line, col := nodePos(n)
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		out = append(out, EnvRef{File: file, Line: line, Col: col, Path: path, Name: m[1]})
	}
	return out
}

var bareName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// EnvProblem is a variable that is unset or empty where a file needs it.
type EnvProblem struct {
	EnvRef
	Empty bool // set, but empty
}

func (p EnvProblem) String() string {
	what := "is not set"
	if p.Empty {
		what = "is set but empty"
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s %s", p.File, p.Line, p.Col, p.Path, p.Name, what)
}

// CheckEnv lists every ${VAR} of the war-room file at path and of its
// playbook files that is unset or empty in lookup's environment.
func CheckEnv(cfg *Config, lookup func(string) (string, bool)) ([]EnvProblem, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	files := []string{cfg.Path}
	if dir := cfg.PlaybooksDir(); dir != "" {
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, err := filepath.Glob(filepath.Join(dir, pat))
			if err != nil {
				return nil, err
			}
			slices.Sort(m)
			files = append(files, m...)
		}
	}
	var out []EnvProblem
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, r := range ScanEnvRefs(f, data) {
			v, ok := lookup(r.Name)
			if !ok || strings.TrimSpace(v) == "" {
				out = append(out, EnvProblem{EnvRef: r, Empty: ok})
			}
		}
	}
	return out, nil
}
