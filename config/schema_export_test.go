// The war-room file's schema as the reference documents it, for the test
// that keeps docs/, the config types and the JSON Schema in step.

package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
)

// Field is one field of the war-room file, by path: services[].panes[].warn.
type Field struct {
	Path string
	Type reflect.Type // the Go type, pointers removed
}

// Fields lists every field of the war-room file in declaration order,
// walking the config types by their yaml tags. Sections and list items
// are not fields; their leaves are.
func Fields() []Field {
	var out []Field
	var walk func(path string, t reflect.Type)
	walk = func(path string, t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
			walk(path+"[]", t.Elem())
			return
		}
		if t.Kind() != reflect.Struct || leafStruct(t) {
			out = append(out, Field{Path: path, Type: t})
			return
		}
		for _, f := range yamlFields(t) {
			walk(joinPath(path, f.name), f.typ)
		}
	}
	walk("", reflect.TypeFor[Config]())
	return out
}

// leafStruct: struct types written as one scalar.
func leafStruct(t reflect.Type) bool { return t == secretType || t == timeType }

type yamlField struct {
	name string
	typ  reflect.Type
}

func yamlFields(t reflect.Type) []yamlField {
	var out []yamlField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, yamlField{name, f.Type})
	}
	return out
}

// FieldDoc is a field's entry in the reference (docs/CONFIG.md).
type FieldDoc struct {
	Type, Default, Description, Example string
}

// Required reports whether the reference calls the field required
// everywhere (not "required for Datadog").
func (d FieldDoc) Required() bool { return d.Default == "required" }

var docRow = regexp.MustCompile("^\\| `([a-z0-9_.\\[\\]]+)` \\|(.*)\\|\\s*$")

// ParseReference reads the field tables of docs/CONFIG.md: rows of
// | `path` | type | default | description | example |.
func ParseReference(md []byte) map[string]FieldDoc {
	out := map[string]FieldDoc{}
	sc := bufio.NewScanner(bytes.NewReader(md))
	for sc.Scan() {
		m := docRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		cols := splitRow(m[2])
		if len(cols) != 4 {
			continue
		}
		out[m[1]] = FieldDoc{Type: cols[0], Default: cols[1], Description: cols[2], Example: cols[3]}
	}
	return out
}

// splitRow splits table cells on | that is not escaped (\|).
func splitRow(s string) []string {
	var cols []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '|':
			cur.WriteByte('|')
			i++
		case s[i] == '|':
			cols = append(cols, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(cols, strings.TrimSpace(cur.String()))
}

// Patterns the schema uses for scalars the decoder parses itself.
const (
	durationPattern = `^(0|([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$`
	offsetPattern   = `^[-+]?(0|([0-9]+(\.[0-9]+)?(w|d))*(([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)?)$`
	secretPattern   = `^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`
)

// enums are the values of fields whose Go type (or path) has a fixed set.
func enumOf(path string, t reflect.Type) []string {
	switch t {
	case reflect.TypeFor[SourceType]():
		return []string{string(SourceDatadog), string(SourcePrometheus), string(SourceRPC)}
	case reflect.TypeFor[Chain]():
		return []string{string(ChainSolana), string(ChainEVM)}
	case reflect.TypeFor[Direction]():
		return []string{string(Above), string(Below)}
	case reflect.TypeFor[NoData]():
		return []string{string(NoDataShow), string(NoDataAlert), string(NoDataZero)}
	case reflect.TypeFor[Severity]():
		return Severities
	}
	switch path {
	case "sources[].commitment":
		return Commitments
	case "sources[].site":
		return DatadogSites
	}
	return nil
}

// JSONSchema generates the JSON Schema (draft 2020-12) of the war-room
// file from the config types, with each field's description from the
// reference. The output is stable: the same types and docs give the same
// bytes.
func JSONSchema(docs map[string]FieldDoc) ([]byte, error) {
	root := schemaOf("", reflect.TypeFor[Config](), docs)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://github.com/warroom/warroom/docs/warroom.schema.json"
	root["title"] = "warroom war-room file"
	root["description"] = "A war room: sources, services and panes, the roster and roles, Slack, and the launch plan. Reference: docs/CONFIG.md."
	// x-… keys hold anchors for templates.
	root["patternProperties"] = map[string]any{"^x-": map[string]any{}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func schemaOf(path string, t reflect.Type, docs map[string]FieldDoc) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := map[string]any{}
	if d, ok := docs[path]; ok {
		desc := strings.ReplaceAll(d.Description, "`", "")
		if d.Default != "" && d.Default != "none" && !d.Required() {
			desc += " Default: " + strings.ReplaceAll(d.Default, "`", "") + "."
		}
		s["description"] = desc
	}
	if e := enumOf(path, t); e != nil {
		s["enum"] = e
		return s
	}
	switch t {
	case durationType:
		s["anyOf"] = []any{map[string]any{"type": "string", "pattern": durationPattern}, map[string]any{"const": 0}}
		return s
	case offsetType:
		s["anyOf"] = []any{map[string]any{"type": "string", "pattern": offsetPattern}, map[string]any{"const": 0}}
		return s
	case secretType:
		s["type"], s["pattern"] = "string", secretPattern
		return s
	case timeType:
		s["type"], s["format"] = "string", "date-time"
		return s
	}
	switch t.Kind() {
	case reflect.String:
		s["type"] = "string"
	case reflect.Bool:
		s["type"] = "boolean"
	case reflect.Float32, reflect.Float64:
		// YAML 1.2 floats some parsers read as text (8e-1) count too, as
		// the decoder reads them.
		s["anyOf"] = []any{map[string]any{"type": "number"}, map[string]any{"type": "string", "pattern": yamlFloat.String()}}
	case reflect.Int, reflect.Int64, reflect.Int32:
		s["type"] = "integer"
	case reflect.Slice:
		s["type"] = "array"
		item := path + "[]"
		if t.Elem().Kind() != reflect.Struct {
			item = path // a list of scalars is documented as one field
		}
		items := schemaOf(item, t.Elem(), nil)
		if t.Elem().Kind() == reflect.Struct {
			items = schemaOf(item, t.Elem(), docs)
		}
		s["items"] = items
	case reflect.Struct:
		s["type"] = "object"
		props := map[string]any{}
		var required []string
		for _, f := range yamlFields(t) {
			fp := joinPath(path, f.name)
			props[f.name] = schemaOf(fp, f.typ, docs)
			if docs[fp].Required() && path != "" {
				required = append(required, f.name)
			}
		}
		s["properties"] = props
		s["additionalProperties"] = false
		if len(required) > 0 {
			s["required"] = required
		}
		if path == "" {
			s["required"] = []string{"incident", "services", "roles"}
		}
	}
	return s
}
