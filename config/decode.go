package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// decoder fills a struct from the AST by reflection over yaml tags. It
// does its own decoding rather than calling yaml.Unmarshal so that every
// unknown field and type error is reported (not just the first), each with
// its position, and so that it records where every field path was written
// for the semantic checks that follow.
type decoder struct {
	file    string
	errs    *Errors
	aliases map[*ast.AliasNode]ast.Node

	vals    map[string]ast.Node // field path → value node as written
	keys    map[string]ast.Node // field path → key node
	bad     map[string]bool     // paths that already have a decode error
	secrets map[ast.Node]bool   // scalars decoded as Secret
	// partial: lines the parser could not read were skipped, so what
	// seems missing may be on one of them (and is not reported).
	partial bool
}

func newDecoder(file string, errs *Errors, aliases map[*ast.AliasNode]ast.Node) *decoder {
	return &decoder{
		file: file, errs: errs, aliases: aliases,
		vals: map[string]ast.Node{}, keys: map[string]ast.Node{},
		bad: map[string]bool{}, secrets: map[ast.Node]bool{},
	}
}

var (
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
	timeType     = reflect.TypeFor[time.Time]()
	offsetType   = reflect.TypeFor[Offset]()
)

func (d *decoder) decodeRoot(body ast.Node, v any) {
	rv := reflect.ValueOf(v).Elem()
	node, _, ok := d.deref(body)
	if !ok {
		return
	}
	if !isMapping(node) {
		d.failNode(body, "", "the file must be a YAML mapping of sections, got "+describe(node), "start from examples/airdrop/warroom.yaml")
		return
	}
	d.decodeValue("", body, rv)
}

// errorf records an error at node n for path.
func (d *decoder) errorf(n ast.Node, path, msg, hint string) {
	line, col := nodePos(n)
	d.errs.add(Error{File: d.file, Line: line, Col: col, Path: path, Msg: msg, Hint: hint})
}

// failNode records a decode error and marks the path so the semantic
// checks do not pile a second, derived error on the same field.
func (d *decoder) failNode(n ast.Node, path, msg, hint string) {
	d.bad[path] = true
	d.errorf(n, path, msg, hint)
}

// deref follows anchors, aliases and tags to the node that holds the
// value. ok is false for an alias whose anchor is unknown (already
// reported by the resolver).
func (d *decoder) deref(n ast.Node) (node ast.Node, tag string, ok bool) {
	// Aliases only point backwards, so this terminates; the bound is a
	// belt-and-braces guard against a malformed AST.
	for range 1000 {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			t, found := d.aliases[x]
			if !found {
				return nil, tag, false
			}
			n = t
		case *ast.TagNode:
			if tag == "" && x.Start != nil {
				tag = x.Start.Value
			}
			n = x.Value
		default:
			return n, tag, true
		}
	}
	return nil, tag, false
}

// Tags that only restate a type the schema already fixes. Anything else
// (custom tags, !!binary, …) has no meaning here and is refused.
var knownTags = map[string]bool{
	"": true, "!!str": true, "!!int": true, "!!float": true, "!!bool": true,
	"!!null": true, "!!map": true, "!!seq": true,
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

func isMapping(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

// describe names a node's YAML kind for "expected X, got Y" messages.
func describe(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return "a " + strings.ToLower(n.Type().String())
}

// stringValue is the text of a string scalar. With !!str any scalar is a
// string, spelled as written.
func stringValue(n ast.Node, tag string) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		if x.Value == nil {
			return "", true
		}
		return x.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tag == "!!str" {
			return x.GetToken().Value, true
		}
	}
	return "", false
}

// rawText is a scalar as written, for hints ("quote it: …").
func rawText(n ast.Node) string {
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}

// yamlFloat is the YAML 1.2 core float syntax; goccy lexes some of it
// (1e3) as strings, so number fields accept unquoted strings of this form.
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

func unquoted(n *ast.StringNode) bool {
	return n.Token != nil && n.Token.Type == token.StringType
}

func (d *decoder) decodeValue(path string, n ast.Node, v reflect.Value) {
	if _, seen := d.vals[path]; !seen {
		d.vals[path] = n
	}
	node, tag, ok := d.deref(n)
	if !ok {
		d.bad[path] = true
		return
	}
	if !knownTags[tag] {
		d.failNode(n, path, "unsupported tag "+tag, "remove it; the schema fixes each field's type")
		return
	}
	if isNull(node) && tag != "!!str" {
		// An empty value means "not set": defaults and required-field
		// checks take it from here.
		v.Set(reflect.Zero(v.Type()))
		return
	}

	switch v.Type() {
	case durationType:
		d.decodeDuration(path, n, node, v)
		return
	case secretType:
		d.decodeSecret(path, n, node, tag, v)
		return
	case offsetType:
		if _, isInt := node.(*ast.IntegerNode); isInt && rawText(node) == "0" {
			v.SetInt(0) // T-0 itself needs no unit
			return
		}
		s, ok := stringValue(node, tag)
		o, err := ParseOffset(s)
		if !ok || err != nil {
			d.failNode(n, path, "expected an offset from T-0, got "+describeValue(node), "e.g. -2w, -48h, -1h30m, 0 or +15m; d and w are days and weeks")
			return
		}
		v.SetInt(int64(o))
		return
	case timeType:
		s, ok := stringValue(node, tag)
		t, err := time.Parse(time.RFC3339, s)
		if !ok || err != nil {
			d.failNode(n, path, "expected an RFC 3339 time, got "+describeValue(node), "write e.g. 2024-01-31T15:00:00Z or 2024-01-31T10:00:00-08:00")
			return
		}
		v.Set(reflect.ValueOf(t))
		return
	}

	switch v.Kind() {
	case reflect.Pointer:
		before := len(d.errs.List)
		e := reflect.New(v.Type().Elem())
		d.decodeValue(path, n, e.Elem())
		// A value that failed to decode stays unset, so checks that
		// compare it (warn against crit) see nothing rather than zero.
		// Structs are kept regardless: their own fields carry the errors.
		if e.Elem().Kind() == reflect.Struct && e.Elem().Type() != timeType || len(d.errs.List) == before && !d.bad[path] {
			v.Set(e)
		}
	case reflect.String:
		s, ok := stringValue(node, tag)
		if !ok {
			hint := ""
			if _, scalar := node.(ast.ScalarNode); scalar {
				hint = "quote it: " + quoteShort(rawText(node))
			}
			d.failNode(n, path, "expected a string, got "+describe(node), hint)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := node.(*ast.BoolNode)
		if !ok {
			d.failNode(n, path, "expected true or false, got "+describeValue(node), "")
			return
		}
		v.SetBool(b.Value)
	case reflect.Float32, reflect.Float64:
		f, msg := number(node)
		if msg != "" {
			d.failNode(n, path, msg, numberHint(node))
			return
		}
		v.SetFloat(f)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		iv, isInt := node.(*ast.IntegerNode)
		if !isInt {
			d.failNode(n, path, "expected an integer, got "+describeValue(node), "")
			return
		}
		x, fits := iv.Value.(int64)
		if !fits || v.OverflowInt(x) {
			d.failNode(n, path, "integer "+rawText(node)+" is out of range", "")
			return
		}
		v.SetInt(x)
	case reflect.Slice:
		seq, ok := node.(*ast.SequenceNode)
		if !ok {
			d.failNode(n, path, "expected a list, got "+describe(node), "write each item on its own line starting with - ")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decodeValue(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		if !isMapping(node) {
			d.failNode(n, path, "expected a mapping, got "+describe(node), "write key: value pairs on indented lines")
			return
		}
		d.decodeStruct(path, node, v)
	default:
		// Only reachable if a field of an unsupported kind is added to
		// the schema; say so instead of silently skipping it.
		d.failNode(n, path, "field type "+v.Type().String()+" is not supported by the config decoder", "")
	}
}

// describeValue names a scalar's kind and, when short and harmless, its
// text: expected a duration, got "5mins".
func describeValue(n ast.Node) string {
	if s, ok := stringValue(n, ""); ok {
		return quoteShort(s)
	}
	if _, scalar := n.(ast.ScalarNode); scalar && !isNull(n) {
		return describe(n) + " " + quoteShort(rawText(n))
	}
	return describe(n)
}

func number(n ast.Node) (float64, string) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		switch v := x.Value.(type) {
		case int64:
			return float64(v), ""
		case uint64:
			return float64(v), ""
		}
	case *ast.FloatNode:
		if math.IsInf(x.Value, 0) || math.IsNaN(x.Value) {
			return 0, "number is out of range"
		}
		return x.Value, ""
	case *ast.InfinityNode, *ast.NanNode:
		return 0, "expected a finite number, got " + quoteShort(rawText(n))
	case *ast.StringNode:
		if unquoted(x) && yamlFloat.MatchString(x.Value) {
			f, err := strconv.ParseFloat(x.Value, 64)
			if err == nil && !math.IsInf(f, 0) {
				return f, ""
			}
			return 0, "number is out of range"
		}
	}
	return 0, "expected a number, got " + describeValue(n)
}

func numberHint(n ast.Node) string {
	if s, ok := n.(*ast.StringNode); ok {
		if _, err := time.ParseDuration(s.Value); err == nil {
			return "thresholds are plain numbers in the pane's unit; for 2s with unit: s write 2"
		}
		if strings.HasSuffix(s.Value, "%") {
			return "write the number without %; put % in unit:"
		}
	}
	return ""
}

const durationHint = "use Go duration syntax such as 30s, 5m, 1h30m"

func (d *decoder) decodeDuration(path string, n, node ast.Node, v reflect.Value) {
	s, ok := stringValue(node, "")
	if !ok {
		if i, isInt := node.(*ast.IntegerNode); isInt && i.Value == int64(0) {
			v.SetInt(0) // 0 needs no unit
			return
		}
		d.failNode(n, path, "expected a duration, got "+describeValue(node), durationHint)
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.failNode(n, path, "invalid duration "+quoteShort(s), durationHint)
		return
	}
	v.SetInt(int64(dur))
}

const secretHint = "write ${ENV_VAR} and export the secret in the environment"

var bareEnvRef = regexp.MustCompile(`^\$[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) decodeSecret(path string, n, node ast.Node, tag string, v reflect.Value) {
	d.secrets[node] = true
	if lit, ok := node.(*ast.LiteralNode); ok && lit.Value != nil {
		d.secrets[lit.Value] = true
	}
	s, ok := stringValue(node, tag)
	if !ok {
		d.failNode(n, path, "secrets must be ${ENV_VAR} references, not literal values", secretHint)
		return
	}
	if m := secretRef.FindStringSubmatch(s); m != nil {
		v.Set(reflect.ValueOf(Secret{Env: m[1]}))
		return
	}
	switch {
	case bareEnvRef.MatchString(s):
		d.failNode(n, path, quoteShort(s)+" is not a ${ENV_VAR} reference", "write ${"+s[1:]+"}")
	case strings.HasPrefix(s, "${"):
		d.failNode(n, path, "malformed reference "+quoteShort(s), "write ${NAME}; names are letters, digits and _")
	default:
		// Never echo the value: it is probably the secret itself.
		d.failNode(n, path, "secrets must be ${ENV_VAR} references, not literal values", secretHint)
	}
}

// structInfo maps yaml tag names to field indexes.
type structInfo struct {
	byName map[string]int
	names  []string // in declaration order, for hints
}

var structCache sync.Map // reflect.Type → *structInfo

func infoOf(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		si.byName[name] = i
		si.names = append(si.names, name)
	}
	structCache.Store(t, si)
	return si
}

func (d *decoder) decodeStruct(path string, node ast.Node, v reflect.Value) {
	si := infoOf(v.Type())
	for _, e := range d.entries(path, node, 0) {
		key, _ := keyString(e.Key)
		fpath := joinPath(path, pathKey(key))
		if _, seen := d.keys[fpath]; !seen {
			d.keys[fpath] = e.Key
		}
		if path == "" && strings.HasPrefix(key, "x-") {
			// Top-level x-… keys hold anchors for templates (as in
			// docker compose); they are merged elsewhere, not decoded here.
			continue
		}
		i, ok := si.byName[key]
		if !ok {
			d.failNode(e.Key, fpath, "unknown field "+quoteShort(key), suggest(key, si.names, "fields here"))
			continue
		}
		d.decodeValue(fpath, e.Value, v.Field(i))
	}
}

// entries lists a mapping's key/value pairs with merge keys (<<) applied:
// keys written in the mapping win over merged ones, and earlier merged
// mappings win over later ones, as in YAML 1.1.
func (d *decoder) entries(path string, node ast.Node, depth int) []*ast.MappingValueNode {
	var vals []*ast.MappingValueNode
	switch m := node.(type) {
	case *ast.MappingNode:
		vals = m.Values
	case *ast.MappingValueNode:
		vals = []*ast.MappingValueNode{m}
	}
	var (
		out    []*ast.MappingValueNode
		seen   = map[string]ast.Node{}
		merges []ast.Node
	)
	for _, mv := range vals {
		if mv.Key != nil && mv.Key.IsMergeKey() {
			merges = append(merges, mv.Value)
			continue
		}
		k, ok := keyString(mv.Key)
		if !ok {
			d.errorf(mv.Key, joinPath(path, keyText(mv.Key)), "mapping keys must be plain strings", "")
			continue
		}
		if first, dup := seen[k]; dup {
			line, _ := nodePos(first)
			d.errorf(mv.Key, joinPath(path, pathKey(k)), "duplicate key "+quoteShort(k), fmt.Sprintf("first at line %d; the later one is ignored", line))
			continue
		}
		seen[k] = mv.Key
		out = append(out, mv)
	}
	if depth > 32 {
		return out // merges of merges this deep are not a real config
	}
	for _, m := range merges {
		target, _, ok := d.deref(m)
		if !ok {
			continue
		}
		var srcs []ast.Node
		switch t := target.(type) {
		case *ast.MappingNode, *ast.MappingValueNode:
			srcs = append(srcs, t)
		case *ast.SequenceNode:
			for _, item := range t.Values {
				it, _, ok := d.deref(item)
				if !ok {
					continue
				}
				if !isMapping(it) {
					d.errorf(item, joinPath(path, "<<"), "merge needs a mapping or a list of mappings, got "+describe(it), "")
					continue
				}
				srcs = append(srcs, it)
			}
		default:
			d.errorf(m, joinPath(path, "<<"), "merge needs a mapping or a list of mappings, got "+describe(target), "")
		}
		for _, src := range srcs {
			for _, mv := range d.entries(path, src, depth+1) {
				k, _ := keyString(mv.Key)
				if _, ok := seen[k]; !ok {
					seen[k] = mv.Key
					out = append(out, mv)
				}
			}
		}
	}
	return out
}

// quoteShort quotes a value for a message, truncated, and never echoes
// anything that looks like a credential.
func quoteShort(s string) string {
	if tokenKind(s) != "" {
		return `"…"`
	}
	return strconv.Quote(shorten(s))
}

func shorten(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// Suggest proposes the closest candidate ("did you mean …?") or, when
// nothing is close, lists the candidates after what ("fields here").
// Playbook errors use it too, so both files hint the same way.
func Suggest(got string, candidates []string, what string) string {
	return suggest(got, candidates, what)
}

func suggest(got string, candidates []string, what string) string {
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		if dist := levenshtein(strings.ToLower(got), strings.ToLower(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best != "" && bestDist <= max(1, len(best)/3) {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(candidates) == 0 {
		return ""
	}
	list := candidates
	if len(list) > 16 {
		list = append(slices.Clone(list[:16]), "…")
	}
	return what + ": " + strings.Join(list, ", ")
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return math.MaxInt / 2 // not a typo of anything in the schema
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
