package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Limits on what ReadYAML accepts, for war-room files and playbooks alike.
// Either is a few KiB; these only stop hostile or broken files from
// costing seconds or gigabytes.
const (
	// MaxFileSize is the largest file ReadYAML accepts.
	MaxFileSize = 1 << 20

	// maxAliasNodes bounds the nodes that alias expansion may add
	// (billion laughs). Counted on the AST before anything is decoded.
	maxAliasNodes = 100_000

	// The goccy parser recurses once per flow nesting level and once per
	// sibling key of a block mapping, and copies its token slice for each
	// implicit null: all three are quadratic in the worst case, so they
	// are bounded on the token stream before parsing. No valid war-room
	// file or playbook comes near these (the widest mapping in either
	// schema has 12 keys). MaxNesting bounds a playbook's block nesting
	// too, where its decoder recurses.
	MaxNesting       = 64
	maxMappingKeys   = 256
	maxImplicitNulls = 256
)

// Load reads and parses the war-room file at path. A file that cannot be
// read gives the *fs.PathError from the os package; a file that is bad in
// any way (syntax, schema, limits) gives *Errors.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Read one byte past the limit so Parse can tell "too large" apart
	// from "exactly at the limit" without trusting Stat (pipes, /dev/fd).
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses and validates a war-room file held in memory. name is used
// in error positions and becomes Config.Path. On success the returned
// config has every default applied; on failure the error is *Errors
// listing every problem found, sorted by position.
func Parse(name string, data []byte) (*Config, error) {
	errs := &Errors{}
	body, repaired := ReadYAML(name, data, WarRoomFile, errs)
	if body == nil {
		return nil, errs.errOrNil()
	}
	fail := func(line, col int, msg, hint string) (*Config, error) {
		errs.add(Error{File: name, Line: line, Col: col, Msg: msg, Hint: hint})
		return nil, errs.errOrNil()
	}

	r := newResolver(name, errs)
	r.walk(body, "")
	if r.overAt != nil {
		// Decoding would be the expensive part; stop before it.
		line, col := nodePos(r.overAt)
		errs.List = nil
		return fail(line, col, fmt.Sprintf("aliases expand to more than %d nodes", maxAliasNodes),
			"the file looks like an alias bomb; war-room files need few anchors")
	}

	d := newDecoder(name, errs, r.aliases)
	d.partial = repaired
	cfg := &Config{}
	d.decodeRoot(body, cfg)
	validate(d, cfg)
	for _, s := range r.suspects {
		if !d.secrets[s.node] {
			line, col := nodePos(s.node)
			errs.add(Error{File: name, Line: line, Col: col, Path: s.path,
				Msg:  "looks like " + s.kind + "; secrets must not be written in the file",
				Hint: secretHint})
		}
	}
	if err := errs.errOrNil(); err != nil {
		return nil, err
	}
	applyDefaults(cfg)
	cfg.Path = name
	return cfg, nil
}

// YAMLKind names what a file holds, for the front end's messages.
type YAMLKind struct {
	What    string // "a war-room file"
	Example string // a file to start from
	// FlowHint is the hint for an unclosed flow mapping, which is how
	// an unquoted value that starts with { reads.
	FlowHint string
}

// WarRoomFile is the kind of the files Parse reads.
var WarRoomFile = YAMLKind{What: "a war-room file", Example: "examples/airdrop/warroom.yaml"}

// ReadYAML is the project's one YAML front end, for war-room files and
// playbooks alike: it checks the size and the encoding, reads CRLF, tabs
// in indents and unreadable lines as problems to report while reading on
// (so that one pass shows every problem), refuses token streams that
// would make the parser slow, and keeps a panic in the YAML library from
// reaching the caller. It returns the body of the file's one document,
// or nil when nothing readable is left, with the problems in errs;
// repaired says lines were skipped, so the body is not the whole file.
// Duplicate keys are the caller's to report (it knows the field path).
func ReadYAML(name string, data []byte, kind YAMLKind, errs *Errors) (body ast.Node, repaired bool) {
	fail := func(line, col int, msg, hint string) (ast.Node, bool) {
		errs.add(Error{File: name, Line: line, Col: col, Msg: msg, Hint: hint})
		return nil, false
	}
	if len(data) > MaxFileSize {
		return fail(1, 1, "file is larger than the 1 MiB limit", kind.What+" is a few KiB; check the path")
	}
	// Editors on Windows may save a byte order mark; the YAML library
	// would read it as part of the first key.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		line, col := badUTF8(data)
		return fail(line, col, "file is not valid UTF-8", "")
	}

	// YAML treats CR, LF and CRLF alike as line breaks; the lexer
	// miscounts lines after CRLF comments, so normalise to LF first.
	if bytes.IndexByte(data, '\r') >= 0 {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
		data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	}
	// A tab in an indent is reported and read as a space, and a line the
	// parser cannot read is reported and read as blank, so the rest of
	// the file is still checked.
	data, tabbed := untab(name, data, errs)
	var file *ast.File
	var lastMsg string
	lastLine, repairs := 0, 0
	for ; ; repairs++ {
		tokens, err := tokenize(data)
		if err != nil {
			return fail(1, 1, err.Error(), "")
		}
		if tk, msg := prescan(tokens); tk != nil {
			line, col := tokenPos(tk)
			return fail(line, col, msg, "")
		}
		file, err = parse(tokens)
		if err == nil {
			break
		}
		line, col, msg := 1, 1, err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			line, col = tokenPos(ye.GetToken())
			msg = ye.GetMessage()
		}
		if (msg != lastMsg || line <= lastLine) && !tabbed[line] {
			// The same complaint on the lines after a skipped one is
			// the same problem (an unclosed bracket), and a line with a
			// tab in its indent has had its say: each said once.
			hint := ""
			if strings.Contains(msg, "flow map") {
				hint = kind.FlowHint
			}
			errs.add(Error{File: name, Line: line, Col: col, Msg: msg, Hint: hint})
		}
		lastMsg, lastLine = msg, line
		var ok bool
		if data, ok = blankLine(data, line); !ok || repairs == maxRepairs {
			return nil, true
		}
	}

	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			line, col := nodePos(doc.Body)
			return fail(line, col, "more than one YAML document", kind.What+" is a single document; remove the extra ---")
		}
		body = doc.Body
	}
	if body == nil && repairs == 0 {
		return fail(1, 1, "file is empty", "start from "+kind.Example)
	}
	return body, repairs > 0
}

// maxRepairs bounds how many unreadable lines are skipped before giving
// up on the rest of the file.
const maxRepairs = 8

// untab reports every tab in a line's indent (YAML indents with spaces
// only) and replaces it with a space, which keeps every position. It
// returns the lines that had one.
func untab(name string, data []byte, errs *Errors) ([]byte, map[int]bool) {
	tabbed := map[int]bool{}
	if bytes.IndexByte(data, '\t') < 0 {
		return data, tabbed
	}
	out := bytes.Clone(data)
	line, start := 1, 0
	for i := 0; i <= len(out); i++ {
		if i < len(out) && out[i] != '\n' {
			continue
		}
		for j := start; j < i && (out[j] == ' ' || out[j] == '\t'); j++ {
			if out[j] == '\t' {
				errs.add(Error{File: name, Line: line, Col: j - start + 1, Msg: "tab in the indent", Hint: "YAML indents with spaces only"})
				out[j] = ' '
				tabbed[line] = true
			}
		}
		line, start = line+1, i+1
	}
	return out, tabbed
}

// blankLine replaces line n (1-based) with spaces, keeping every other
// position; false if there is nothing left to blank there.
func blankLine(data []byte, n int) ([]byte, bool) {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) || len(bytes.TrimSpace(lines[n-1])) == 0 {
		return data, false
	}
	lines[n-1] = bytes.Repeat([]byte(" "), len(lines[n-1]))
	return bytes.Join(lines, []byte("\n")), true
}

// tokenize and parse keep a panic inside the YAML library (which has had
// them on odd input) from taking down the caller: it becomes an error.
func tokenize(data []byte) (tks token.Tokens, err error) {
	defer func() {
		if r := recover(); r != nil {
			tks, err = nil, fmt.Errorf("could not read YAML (parser failure: %v)", r)
		}
	}()
	return lexer.Tokenize(string(data)), nil
}

func parse(tks token.Tokens) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("could not parse YAML (parser failure: %v)", r)
		}
	}()
	// Duplicate keys are the decoder's to report (it knows the field
	// path), so that a duplicate does not hide the rest of the file.
	return parser.Parse(tks, 0, parser.AllowDuplicateMapKey())
}

// prescan refuses token streams that would make the parser slow (see the
// limits above). It returns the offending token and a message.
func prescan(tks token.Tokens) (*token.Token, string) {
	type frame struct{ col, keys int }
	var (
		stack []frame
		depth int
		nulls int
		prev  *token.Token
	)
	next := func(i int) *token.Token {
		for j := i + 1; j < len(tks); j++ {
			if tks[j].Type != token.CommentType {
				return tks[j]
			}
		}
		return nil
	}
	popDeeper := func(col int) {
		for len(stack) > 0 && stack[len(stack)-1].col > col {
			stack = stack[:len(stack)-1]
		}
	}
	// emptyAfter reports whether nothing follows tk at a deeper indent than
	// col, i.e. the parser will insert an implicit null there.
	emptyAfter := func(tk, nx *token.Token, col int) bool {
		if nx == nil {
			return true
		}
		if nx.Position == nil || tk.Position == nil || nx.Position.Line == tk.Position.Line {
			return false
		}
		if nx.Type == token.SequenceEntryType && nx.Position.Column == col && tk.Type == token.MappingValueType {
			return false // "key:\n- item" at the key's indent is a sequence value
		}
		return nx.Position.Column <= col
	}
	for i, tk := range tks {
		if tk.Type == token.CommentType {
			continue
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			depth++
			if depth > MaxNesting {
				return tk, fmt.Sprintf("nesting is deeper than %d levels", MaxNesting)
			}
		case token.SequenceEndType, token.MappingEndType:
			if depth > 0 {
				depth--
			}
		case token.DocumentHeaderType, token.DocumentEndType:
			stack = stack[:0]
		case token.SequenceEntryType:
			if depth == 0 && tk.Position != nil {
				col := tk.Position.Column
				popDeeper(col)
				if emptyAfter(tk, next(i), col) {
					nulls++
				}
			}
		case token.MappingValueType:
			if depth == 0 && prev != nil && prev.Position != nil {
				col := prev.Position.Column
				popDeeper(col)
				if n := len(stack); n > 0 && stack[n-1].col == col {
					stack[n-1].keys++
					if stack[n-1].keys > maxMappingKeys {
						return prev, fmt.Sprintf("mapping has more than %d keys", maxMappingKeys)
					}
				} else {
					stack = append(stack, frame{col: col, keys: 1})
				}
				if emptyAfter(tk, next(i), col) {
					nulls++
				}
			}
		}
		if nulls > maxImplicitNulls {
			return tk, fmt.Sprintf("more than %d empty values", maxImplicitNulls)
		}
		prev = tk
	}
	return nil, ""
}

// NodePos is a node's line and column, 1-based, for the playbooks'
// decoder, so that both kinds of file point at problems the same way.
func NodePos(n ast.Node) (int, int) { return nodePos(n) }

func tokenPos(tk *token.Token) (int, int) {
	if tk == nil || tk.Position == nil || tk.Position.Line < 1 {
		return 1, 1
	}
	return tk.Position.Line, max(tk.Position.Column, 1)
}

// nodePos is where a node starts as a reader would point at it. goccy
// positions block mappings at their first ':' and key/value pairs at the
// ':', so those use the first key instead.
func nodePos(n ast.Node) (int, int) {
	switch x := n.(type) {
	case nil:
		return 1, 1
	case *ast.DocumentNode:
		if x.Body == nil {
			return 1, 1
		}
		return nodePos(x.Body)
	case *ast.MappingNode:
		if !x.IsFlowStyle && len(x.Values) > 0 {
			return nodePos(x.Values[0])
		}
		return tokenPos(x.Start)
	case *ast.MappingValueNode:
		if x.Key != nil {
			return nodePos(x.Key)
		}
		return tokenPos(x.Start)
	}
	return tokenPos(n.GetToken())
}

// badUTF8 finds the line and column (in bytes) of the first invalid byte.
func badUTF8(data []byte) (int, int) {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line, col
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return line, col
}

// resolver walks the AST once in document order: it binds each alias to
// the anchor defined before it, counts how many nodes aliases would
// expand to, and notes scalars that look like secrets.
type resolver struct {
	file     string
	errs     *Errors
	anchors  map[string]anchorDef
	aliases  map[*ast.AliasNode]ast.Node
	expanded int64
	overAt   ast.Node
	suspects []suspect
}

type anchorDef struct {
	node ast.Node
	size int64
}

type suspect struct {
	node ast.Node
	path string
	kind string
}

func newResolver(file string, errs *Errors) *resolver {
	return &resolver{file: file, errs: errs, anchors: map[string]anchorDef{}, aliases: map[*ast.AliasNode]ast.Node{}}
}

// sat adds without overflowing: sizes in an alias bomb grow exponentially.
func sat(a, b int64) int64 {
	if a > 1<<60-b {
		return 1 << 60
	}
	return a + b
}

// walk returns the number of nodes n stands for once aliases are expanded.
func (r *resolver) walk(n ast.Node, path string) int64 {
	switch x := n.(type) {
	case nil:
		return 0
	case *ast.MappingNode:
		s := int64(1)
		for _, mv := range x.Values {
			s = sat(s, r.walk(mv, path))
		}
		return s
	case *ast.MappingValueNode:
		p := joinPath(path, keyText(x.Key))
		return sat(r.walk(x.Key, p), r.walk(x.Value, p))
	case *ast.SequenceNode:
		s := int64(1)
		for i, v := range x.Values {
			s = sat(s, r.walk(v, fmt.Sprintf("%s[%d]", path, i)))
		}
		return s
	case *ast.AnchorNode:
		s := r.walk(x.Value, path)
		// Registered after its value is walked, so an anchor cannot refer
		// to itself: aliases only point backwards and never loop.
		r.anchors[scalarText(x.Name)] = anchorDef{node: x.Value, size: s}
		return s
	case *ast.AliasNode:
		name := scalarText(x.Value)
		def, ok := r.anchors[name]
		if !ok {
			line, col := nodePos(x)
			r.errs.add(Error{File: r.file, Line: line, Col: col, Path: path,
				Msg: fmt.Sprintf("alias *%s refers to no anchor defined before it", name), Hint: "define &" + name + " first"})
			return 1
		}
		r.aliases[x] = def.node
		r.expanded = sat(r.expanded, def.size)
		if r.expanded > maxAliasNodes && r.overAt == nil {
			r.overAt = x
		}
		return def.size
	case *ast.TagNode:
		return r.walk(x.Value, path)
	case *ast.MappingKeyNode:
		return r.walk(x.Value, path)
	case *ast.StringNode:
		r.scan(x, x.Value, path)
	case *ast.LiteralNode:
		if x.Value != nil {
			r.scan(x.Value, x.Value.Value, path)
		}
	}
	return 1
}

func (r *resolver) scan(n ast.Node, s, path string) {
	if kind := tokenKind(s); kind != "" {
		r.suspects = append(r.suspects, suspect{node: n, path: path, kind: kind})
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyText is a mapping key as it appears in a field path.
func keyText(k ast.Node) string {
	if s, ok := keyString(k); ok {
		return pathKey(s)
	}
	if k == nil {
		return "?"
	}
	return pathKey(k.String())
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_<>-]+$`)

// pathKey is a key as a field path element: schema keys as they are,
// anything odd quoted so the path stays one readable line.
func pathKey(k string) string {
	if plainKey.MatchString(k) {
		return k
	}
	return quoteShort(k)
}

// keyString is the key's text if the key is a plain scalar.
func keyString(k ast.Node) (string, bool) {
	switch x := k.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.MergeKeyNode:
		return "<<", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode:
		return x.GetToken().Value, false
	}
	return "", false
}

func scalarText(n ast.Node) string {
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value
	}
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}
