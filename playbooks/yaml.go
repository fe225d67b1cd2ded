package playbooks

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/warroom/warroom/config"
)

// playbookFile is what the YAML front end (config.ReadYAML, with the
// limits of war-room files) is told it reads here.
var playbookFile = config.YAMLKind{What: "a playbook", Example: "examples/airdrop/playbooks/rpc-traffic-split.yaml",
	FlowHint: `quote values that contain templates: url: "{{vars.admin}}/…"`}

// kind is a YAML node's kind after conversion.
type kind int

const (
	kNull kind = iota
	kString
	kInt
	kFloat
	kBool
	kMap
	kSeq
)

// ynode is a YAML node reduced to what a playbook can contain: scalars,
// mappings with unique string keys, and sequences. Anchors, aliases,
// merge keys and tags are refused while converting, so there is no alias
// expansion at all (no alias bombs) and no type games.
type ynode struct {
	kind      kind
	line, col int
	str       string // kString; the raw token for other scalars
	i         int64
	f         float64
	b         bool
	keys      []*ynode // kMap: key nodes (kString), in file order
	vals      []*ynode // kMap: values; kSeq: items
	quoted    bool     // a quoted or block string
}

func (n *ynode) get(key string) (*ynode, *ynode) {
	for i, k := range n.keys {
		if k.str == key {
			return k, n.vals[i]
		}
	}
	return nil, nil
}

func describe(n *ynode) string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case kNull:
		return "null"
	case kString:
		return "a string"
	case kInt:
		return "an integer"
	case kFloat:
		return "a number"
	case kBool:
		return "a boolean"
	case kMap:
		return "a mapping"
	case kSeq:
		return "a list"
	}
	return "a value"
}

// fileDecoder turns one file into a tree and collects errors with
// positions, in the config package's format.
type fileDecoder struct {
	file string
	errs *config.Errors
}

func (d *fileDecoder) errAt(line, col int, path, msg, hint string) {
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	d.errs.List = append(d.errs.List, config.Error{File: d.file, Line: line, Col: col, Path: path, Msg: msg, Hint: hint})
}

func (d *fileDecoder) errNode(n *ynode, path, msg, hint string) {
	line, col := 1, 1
	if n != nil {
		line, col = n.line, n.col
	}
	d.errAt(line, col, path, msg, hint)
}

// parseYAML reads the file through the project's YAML front end and
// converts it. It returns nil after reporting why.
func (d *fileDecoder) parseYAML(data []byte) *ynode {
	body, _ := config.ReadYAML(d.file, data, playbookFile, d.errs)
	if body == nil {
		return nil
	}
	return d.convert(body, "", 0)
}

var decimalInt = regexp.MustCompile(`^[-+]?[0-9]+$`)

// yamlFloat is the plain-number syntax goccy sometimes leaves as a string
// (1e3); number fields accept it when unquoted.
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

func (d *fileDecoder) convert(n ast.Node, path string, depth int) *ynode {
	line, col := config.NodePos(n)
	out := &ynode{line: line, col: col}
	if depth > config.MaxNesting {
		d.errAt(line, col, path, fmt.Sprintf("nesting is deeper than %d levels", config.MaxNesting), "")
		return nil
	}
	switch x := n.(type) {
	case nil:
		out.kind = kNull
	case *ast.NullNode:
		out.kind = kNull
	case *ast.StringNode:
		out.kind, out.str = kString, x.Value
		out.quoted = x.Token != nil && x.Token.Type != token.StringType
	case *ast.LiteralNode:
		out.kind, out.quoted = kString, true
		if x.Value != nil {
			out.str = x.Value.Value
		}
	case *ast.IntegerNode:
		raw := tokenText(x)
		var v int64
		ok := false
		switch n := x.Value.(type) {
		case int64:
			v, ok = n, true
		case uint64:
			v, ok = int64(n), n <= math.MaxInt64
		}
		if !ok || !decimalInt.MatchString(raw) {
			d.errAt(line, col, path, "integer "+quote(raw)+" is not a plain decimal integer in range", "write it in decimal, e.g. 16")
			return nil
		}
		out.kind, out.i, out.f, out.str = kInt, v, float64(v), raw
	case *ast.FloatNode:
		if math.IsInf(x.Value, 0) || math.IsNaN(x.Value) {
			d.errAt(line, col, path, "number is out of range", "")
			return nil
		}
		out.kind, out.f, out.str = kFloat, x.Value, tokenText(x)
	case *ast.InfinityNode, *ast.NanNode:
		d.errAt(line, col, path, "expected a finite number, got "+quote(tokenText(n)), "")
		return nil
	case *ast.BoolNode:
		out.kind, out.b, out.str = kBool, x.Value, tokenText(x)
	case *ast.MappingNode:
		out.kind = kMap
		for _, mv := range x.Values {
			d.pair(out, mv, path, depth)
		}
	case *ast.MappingValueNode:
		out.kind = kMap
		d.pair(out, x, path, depth)
	case *ast.SequenceNode:
		out.kind = kSeq
		for i, item := range x.Values {
			c := d.convert(item, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if c == nil {
				c = &ynode{kind: kNull, line: line, col: col, str: "\x00bad"}
			}
			out.vals = append(out.vals, c)
		}
	case *ast.AnchorNode, *ast.AliasNode:
		d.errAt(line, col, path, "anchors and aliases are not supported in playbooks", "write each value out; a playbook should read top to bottom")
		return nil
	case *ast.TagNode:
		d.errAt(line, col, path, "YAML tags are not supported in playbooks", "remove the tag; the schema fixes each field's type")
		return nil
	case *ast.MergeKeyNode:
		d.errAt(line, col, path, "merge keys (<<) are not supported in playbooks", "write the fields out")
		return nil
	default:
		d.errAt(line, col, path, "unsupported YAML node ("+strings.ToLower(n.Type().String())+")", "")
		return nil
	}
	return out
}

func (d *fileDecoder) pair(m *ynode, mv *ast.MappingValueNode, path string, depth int) {
	if mv.Key != nil && mv.Key.IsMergeKey() {
		line, col := config.NodePos(mv.Key)
		d.errAt(line, col, path, "merge keys (<<) are not supported in playbooks", "write the fields out")
		return
	}
	line, col := config.NodePos(mv.Key)
	var key string
	switch k := mv.Key.(type) {
	case *ast.StringNode:
		key = k.Value
	case *ast.MappingKeyNode:
		d.errAt(line, col, path, "complex mapping keys (?) are not supported", "")
		return
	default:
		if mv.Key == nil {
			d.errAt(line, col, path, "mapping key is missing", "")
			return
		}
		d.errAt(line, col, joinPath(path, tokenText(mv.Key)), "mapping keys must be plain strings", "quote it")
		return
	}
	kpath := joinPath(path, key)
	for _, prev := range m.keys {
		if prev.str == key {
			d.errAt(line, col, kpath, "duplicate key "+quote(key), fmt.Sprintf("first written at line %d", prev.line))
			return
		}
	}
	v := d.convert(mv.Value, kpath, depth+1)
	if v == nil {
		// Already reported; keep the key so that "required" checks do
		// not add a second error for the same field.
		v = &ynode{kind: kNull, line: line, col: col, str: "\x00bad"}
	}
	m.keys = append(m.keys, &ynode{kind: kString, str: key, line: line, col: col})
	m.vals = append(m.vals, v)
}

// bad reports whether a node stands in for a value that already failed.
func (n *ynode) bad() bool { return n != nil && n.kind == kNull && n.str == "\x00bad" }

func tokenText(n ast.Node) string {
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// quote quotes a value for a message, shortened.
func quote(s string) string {
	const limit = 40
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return strconv.Quote(s)
}
