package config_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/docs"
)

// reference is docs/CONFIG.md, which the binary does not carry.
func reference(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var updateSchema = flag.Bool("update-schema", false, "rewrite docs/warroom.schema.json from the config types and docs/CONFIG.md")

// TestReferenceCoversEveryField fails when a field of the war-room file
// (found by walking the config types' yaml tags) has no entry in
// docs/CONFIG.md, or an entry lacks a type, default, description or
// example; and when the reference documents a field that does not exist.
func TestReferenceCoversEveryField(t *testing.T) {
	ref := config.ParseReference(reference(t))
	fields := config.Fields()
	if len(fields) < 70 {
		t.Fatalf("only %d fields found: the walk is broken", len(fields))
	}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Path] = true
		d, ok := ref[f.Path]
		if !ok {
			t.Errorf("docs/CONFIG.md has no entry for %s (%s): add a row | `%s` | type | default | description | example |", f.Path, f.Type, f.Path)
			continue
		}
		if d.Type == "" || d.Default == "" || d.Description == "" || d.Example == "" {
			t.Errorf("docs/CONFIG.md entry for %s is incomplete: %+v", f.Path, d)
		}
	}
	for p := range ref {
		if !known[p] {
			t.Errorf("docs/CONFIG.md documents %s, which is not a field", p)
		}
	}
}

func TestSchemaIsGeneratedFromTheTypes(t *testing.T) {
	got, err := config.JSONSchema(config.ParseReference(reference(t)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "warroom.schema.json")
	if *updateSchema {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, docs.Schema) {
		t.Fatalf("docs/warroom.schema.json is out of date: run go test ./config -run Schema -update-schema")
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(docs.Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("warroom.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("warroom.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSON reads YAML the way an editor's language server sees it: as
// JSON values (times as RFC 3339 text).
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaValidatesTheExampleAndRejectsATypo(t *testing.T) {
	s := compileSchema(t)
	example, err := os.ReadFile("../examples/airdrop/warroom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(yamlToJSON(t, example)); err != nil {
		t.Fatalf("the example must validate: %v", err)
	}
	for _, good := range []string{"testdata/good/minimal.yaml", "testdata/good/defaults.yaml", "testdata/good/yaml_features.yaml"} {
		b, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlToJSON(t, b)); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for name, edit := range map[string][2]string{
		"a typo in a pane field": {"        no_data: zero", "        nodata: zero"},
		"a typo in a section":    {"escalation:", "escalaton:"},
		"a bad enum":             {"    chain: solana", "    chain: solanna"},
		"a bad duration":         {"    interval: 5s", "    interval: 5 seconds"},
		"a literal secret":       {"    api_key: ${DD_API_KEY}", "    api_key: 0123abcd"},
		"a bad offset":           {"    - at: -48h", "    - at: 48 hours before"},
	} {
		bad := strings.Replace(string(example), edit[0], edit[1], 1)
		if bad == string(example) {
			t.Fatalf("%s: %q not in the example", name, edit[0])
		}
		err := s.Validate(yamlToJSON(t, []byte(bad)))
		if err == nil {
			t.Errorf("%s: the schema accepted it", name)
			continue
		}
		want := strings.TrimSpace(strings.Split(edit[1], ":")[0])
		want = strings.TrimPrefix(want, "- ")
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(err.Error()) {
			t.Errorf("%s: the error does not point at %q: %v", name, want, err)
		}
	}
}
