package playbooks

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// Defaults and bounds of the format.
const (
	DefaultApprovalExpiry = 10 * time.Minute
	MaxApprovalExpiry     = 30 * time.Minute
	DefaultLockTimeout    = 15 * time.Minute
	MaxLockTimeout        = 6 * time.Hour
	DefaultHTTPTimeout    = 30 * time.Second
	DefaultExecTimeout    = 60 * time.Second
	DefaultWaitTimeout    = 5 * time.Minute
	DefaultMessageTimeout = 10 * time.Second
	DefaultMaxAge         = 2 * time.Minute
	MaxRetries            = 5
	MaxStringParam        = 1024
	// MinSecretLen: a shorter secret cannot be masked without masking
	// ordinary text all over the output.
	MinSecretLen = 8
)

// Catalog is every playbook of a war room, by id.
type Catalog struct {
	Dir  string
	list []*Playbook
	byID map[string]*Playbook
}

// Playbooks lists the playbooks sorted by id.
func (c *Catalog) Playbooks() []*Playbook { return c.list }

// Get returns the playbook with the id.
func (c *Catalog) Get(id string) (*Playbook, bool) {
	p, ok := c.byID[id]
	return p, ok
}

// RunPolicy implements incident.RunPolicies: the engine decides locks,
// permissions and approvals from it.
func (c *Catalog) RunPolicy(id string) (incident.RunPolicy, bool) {
	p, ok := c.byID[id]
	if !ok {
		return incident.RunPolicy{}, false
	}
	return p.policy(), true
}

func (p *Playbook) policy() incident.RunPolicy {
	rp := incident.RunPolicy{Service: p.Service, RunRole: p.RunRole, Lock: p.Lock.Name, LockTimeout: p.Lock.Timeout}
	if p.Approval != nil {
		rp.Approvers = slices.Clone(p.Approval.Approvers)
		rp.ApprovalTimeout = p.Approval.Expires
	}
	return rp
}

// LoadForConfig loads the war room's playbooks directory (Config.Playbooks,
// relative to the config file) and checks every reference to the war room:
// services, panes and roles. This is what `warroom check` should call. A
// config without a playbooks directory has an empty catalog.
func LoadForConfig(cfg *config.Config) (*Catalog, error) {
	if cfg == nil || cfg.Playbooks == "" {
		return &Catalog{byID: map[string]*Playbook{}}, nil
	}
	dir := cfg.Playbooks
	if !filepath.IsAbs(dir) && cfg.Path != "" {
		dir = filepath.Join(filepath.Dir(cfg.Path), dir)
	}
	return load(dir, cfg)
}

func load(dir string, cfg *config.Config) (*Catalog, error) {
	errs := &config.Errors{}
	cat := &Catalog{Dir: dir, byID: map[string]*Playbook{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		msg := "cannot read the playbooks directory: " + err.Error()
		if errors.Is(err, os.ErrNotExist) {
			msg = "the playbooks directory does not exist"
		}
		errs.List = append(errs.List, config.Error{File: dir, Line: 1, Col: 1, Path: "playbooks", Msg: msg, Hint: "playbooks: is relative to the war-room file"})
		return nil, errs
	}
	first := map[string]*Playbook{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := readLimited(path)
		if err != nil {
			errs.List = append(errs.List, config.Error{File: path, Line: 1, Col: 1, Msg: err.Error()})
			continue
		}
		pb, idNode := parseFile(path, data, cfg, errs)
		if pb == nil {
			continue
		}
		if prev, dup := first[pb.ID]; dup {
			errs.List = append(errs.List, config.Error{File: path, Line: idNode.line, Col: idNode.col, Path: "id",
				Msg: fmt.Sprintf("duplicate playbook id %q", pb.ID), Hint: "first defined in " + prev.File})
			continue
		}
		first[pb.ID] = pb
		cat.list = append(cat.list, pb)
		cat.byID[pb.ID] = pb
	}
	if len(errs.List) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	slices.SortFunc(cat.list, func(a, b *Playbook) int { return cmp.Compare(a.ID, b.ID) })
	return cat, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, config.MaxFileSize+1))
}

func sortErrors(e *config.Errors) {
	slices.SortStableFunc(e.List, func(a, b config.Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	e.List = slices.Compact(e.List)
}

// pbDecoder decodes one file's tree into a Playbook.
type pbDecoder struct {
	fileDecoder
	pb        *Playbook
	cfg       *config.Config
	stepIDs   map[string]*Step
	stepPos   map[string]stepPos
	params    map[string]*Param
	vars      map[string]bool
	secrets   map[string]bool
	tmplNodes []tmplUse
	diffs     []diffUse
	cur       stepPos // the step being decoded
}

// stepPos is where a step is: its section and index.
type stepPos struct {
	section string
	index   int
}

// tmplUse is a template and where it is used, for reference checks.
type tmplUse struct {
	t    *tmpl
	n    *ynode
	path string
	ctx  tctx
	at   stepPos
}

// tctx is what a template feeds, which decides what it may reference.
type tctx int

const (
	ctxURL     tctx = iota // path and query of a request
	ctxHeader              // request header values: the only place for secrets
	ctxJSON                // request body
	ctxText                // note and slack text
	ctxExecEnv             // exec env values: params arrive as WARROOM_PARAM_*
	ctxWait                // a wait_metric threshold
)

func (d *pbDecoder) addTmpl(t *tmpl, n *ynode, path string, ctx tctx) {
	d.tmplNodes = append(d.tmplNodes, tmplUse{t: t, n: n, path: path, ctx: ctx, at: d.cur})
}

func parseFile(name string, data []byte, cfg *config.Config, errs *config.Errors) (*Playbook, *ynode) {
	before := len(errs.List)
	d := &pbDecoder{fileDecoder: fileDecoder{file: name, errs: errs}, cfg: cfg,
		stepIDs: map[string]*Step{}, stepPos: map[string]stepPos{}, params: map[string]*Param{}, vars: map[string]bool{}, secrets: map[string]bool{}}
	root := d.parseYAML(data)
	if root == nil {
		return nil, nil
	}
	if root.kind != kMap {
		d.errNode(root, "", "a playbook must be a YAML mapping, got "+describe(root), "start from examples/airdrop/playbooks/rpc-traffic-split.yaml")
		return nil, nil
	}
	sum := sha256.Sum256(data)
	d.pb = &Playbook{File: name, Digest: hex.EncodeToString(sum[:]), dir: filepath.Dir(name)}
	if abs, err := filepath.Abs(d.pb.dir); err == nil {
		d.pb.dir = abs
	}
	idNode := d.decode(root)
	if len(errs.List) > before {
		return nil, nil
	}
	return d.pb, idNode
}

var (
	idPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	namePattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	stepIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	lockPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._:/-]{0,63}$`)
	envPattern    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerPattern = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
	envRefPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	jsonPathPart  = regexp.MustCompile(`^(\.[A-Za-z0-9_-]+|\[[0-9]{1,6}\]|\["[A-Za-z0-9_ .-]+"\])`)
)

const (
	idHint   = "lower-case letters, digits, - and _, starting with a letter or digit"
	nameHint = "lower-case letters, digits and _, starting with a letter, at most 32"
)

// fields checks that n is a mapping whose keys are all known. It returns
// false (after reporting) when n is not a mapping.
func (d *pbDecoder) fields(n *ynode, path string, known ...string) bool {
	if n == nil || n.bad() {
		return false
	}
	if n.kind != kMap {
		d.errNode(n, path, "expected a mapping, got "+describe(n), "write key: value pairs on indented lines")
		return false
	}
	for _, k := range n.keys {
		if !slices.Contains(known, k.str) {
			d.errNode(k, joinPath(path, k.str), "unknown field "+quote(k.str), suggest(k.str, known))
		}
	}
	return true
}

func (d *pbDecoder) str(n *ynode, path string) (string, bool) {
	if n == nil || n.bad() {
		return "", false
	}
	if n.kind != kString {
		hint := ""
		if n.kind != kMap && n.kind != kSeq && n.kind != kNull {
			hint = "quote it: \"" + n.str + "\""
		}
		d.errNode(n, path, "expected a string, got "+describe(n), hint)
		return "", false
	}
	return n.str, true
}

// field returns the value of key in m (nil when absent).
func field(m *ynode, key string) *ynode {
	if m == nil || m.kind != kMap {
		return nil
	}
	_, v := m.get(key)
	return v
}

func (d *pbDecoder) reqStr(m *ynode, key, path string) (string, *ynode) {
	v := field(m, key)
	p := joinPath(path, key)
	if v == nil || (v.kind == kNull && !v.bad()) {
		d.missing(m, v, p, "")
		return "", nil
	}
	s, ok := d.str(v, p)
	if !ok {
		return "", nil
	}
	if strings.TrimSpace(s) == "" {
		d.errNode(v, p, "must not be empty", "")
		return "", nil
	}
	return s, v
}

func (d *pbDecoder) missing(parent, v *ynode, path, hint string) {
	if v != nil && v.bad() {
		return
	}
	if v != nil {
		d.errNode(v, path, "required field is empty", hint)
		return
	}
	d.errNode(parent, path, "required field is missing", hint)
}

func (d *pbDecoder) optStr(m *ynode, key, path string) (string, *ynode) {
	v := field(m, key)
	if v == nil || (v.kind == kNull && !v.bad()) {
		return "", nil
	}
	s, ok := d.str(v, joinPath(path, key))
	if !ok {
		return "", nil
	}
	return s, v
}

func (d *pbDecoder) duration(m *ynode, key, path string, dflt, maxD time.Duration) time.Duration {
	v := field(m, key)
	p := joinPath(path, key)
	if v == nil || (v.kind == kNull && !v.bad()) {
		return dflt
	}
	if v.bad() {
		return dflt
	}
	if v.kind != kString {
		d.errNode(v, p, "expected a duration, got "+describe(v), "use Go duration syntax such as 30s, 5m, 1h30m")
		return dflt
	}
	x, err := time.ParseDuration(v.str)
	if err != nil {
		d.errNode(v, p, "invalid duration "+quote(v.str), "use Go duration syntax such as 30s, 5m, 1h30m")
		return dflt
	}
	if x <= 0 {
		d.errNode(v, p, "must be a positive duration", "")
		return dflt
	}
	if maxD > 0 && x > maxD {
		d.errNode(v, p, fmt.Sprintf("%s is longer than the %s maximum", x, maxD), "")
		return dflt
	}
	return x
}

func (d *pbDecoder) boolean(m *ynode, key, path string) bool {
	v := field(m, key)
	if v == nil || v.bad() || (v.kind == kNull) {
		return false
	}
	if v.kind != kBool {
		d.errNode(v, joinPath(path, key), "expected true or false, got "+describe(v), "")
		return false
	}
	return v.b
}

func (d *pbDecoder) list(m *ynode, key, path string) []*ynode {
	v := field(m, key)
	if v == nil || v.bad() || v.kind == kNull {
		return nil
	}
	if v.kind != kSeq {
		d.errNode(v, joinPath(path, key), "expected a list, got "+describe(v), "write each item on its own line starting with - ")
		return nil
	}
	return v.vals
}

var topFields = []string{"id", "title", "service", "description", "risk", "run_role", "approval", "lock",
	"vars", "secrets", "params", "steps", "verify", "rollback", "on_failure", "on_verify_failure"}

func (d *pbDecoder) decode(root *ynode) *ynode {
	pb := d.pb
	d.fields(root, "", topFields...)
	id, idNode := d.reqStr(root, "id", "")
	if idNode != nil && !idPattern.MatchString(id) {
		d.errNode(idNode, "id", "playbook id "+quote(id)+" is not valid", idHint)
	}
	pb.ID = id
	pb.Title, _ = d.reqStr(root, "title", "")
	if len(pb.Title) > 120 {
		d.errNode(field(root, "title"), "title", "title is longer than 120 characters", "put detail in description")
	} else if !textsafe.Safe(pb.Title) {
		d.errNode(field(root, "title"), "title", "title "+quote(pb.Title)+" contains a control, escape or bidi character", "titles are shown in terminals and Slack; write them on one line without such characters")
	}
	var svcNode *ynode
	pb.Service, svcNode = d.reqStr(root, "service", "")
	if svcNode != nil && d.cfg != nil && d.cfg.Service(pb.Service) == nil {
		d.errNode(svcNode, "service", "no service "+quote(pb.Service)+" in "+d.cfg.Path, suggest(pb.Service, d.serviceIDs()))
	}
	pb.Description, _ = d.reqStr(root, "description", "")

	risk, riskNode := d.reqStr(root, "risk", "")
	pb.Risk = Risk(risk)
	if riskNode != nil && !slices.Contains([]Risk{RiskLow, RiskMedium, RiskHigh, RiskCritical}, pb.Risk) {
		d.errNode(riskNode, "risk", "unknown risk "+quote(risk), "one of low, medium, high, critical")
	}

	pb.RunRole = roles.Owner
	if s, n := d.optStr(root, "run_role", ""); n != nil {
		switch roles.Role(s) {
		case roles.Owner, roles.Deputy, roles.Commander:
			pb.RunRole = roles.Role(s)
		default:
			d.errNode(n, "run_role", "unknown run_role "+quote(s), "owner (the service's owners, the commander or the deputy), deputy (commander or deputy) or commander")
		}
	}
	d.approval(root)
	d.lock(root)
	d.varsAndSecrets(root)
	d.paramsList(root)

	pb.Steps = d.steps(root, "steps")
	pb.Verify = d.steps(root, "verify")
	pb.Rollback = d.steps(root, "rollback")
	if len(pb.Steps) == 0 && field(root, "steps") != nil && !field(root, "steps").bad() && field(root, "steps").kind == kSeq {
		d.errNode(field(root, "steps"), "steps", "a playbook needs at least one step", "")
	} else if field(root, "steps") == nil {
		d.errNode(root, "steps", "required field is missing", "")
	}
	mutates := false
	for _, s := range pb.Steps {
		mutates = mutates || s.Mutates()
	}
	for _, s := range pb.Rollback {
		mutates = mutates || s.Mutates()
	}
	if mutates && len(pb.Rollback) == 0 {
		d.errNode(root, "rollback", "a playbook that changes something needs rollback steps",
			"restore the values its capture steps saved; if it cannot be undone, say so in a note step")
	}
	pb.OnFailure = d.policyField(root, "on_failure")
	pb.OnVerifyFailure = d.policyField(root, "on_verify_failure")

	// Everything else decoded: now check references in templates.
	d.checkRefs()
	return idNode
}

func (d *pbDecoder) policyField(root *ynode, key string) string {
	s, n := d.optStr(root, key, "")
	if n == nil {
		return "rollback"
	}
	if s != "rollback" && s != "ask" {
		d.errNode(n, key, "unknown policy "+quote(s), "rollback (run the rollback steps at once) or ask (the commander decides)")
		return "rollback"
	}
	return s
}

func (d *pbDecoder) approval(root *ynode) {
	pb := d.pb
	n := field(root, "approval")
	if n == nil || (n.kind == kNull && !n.bad()) {
		if pb.Risk == RiskHigh || pb.Risk == RiskCritical {
			d.errNode(root, "approval", "a "+string(pb.Risk)+"-risk playbook needs an approval", "add approval: {approvers: [commander, deputy], expires: 10m}")
		}
		return
	}
	if !d.fields(n, "approval", "approvers", "expires") {
		return
	}
	a := &Approval{Expires: d.duration(n, "expires", "approval", DefaultApprovalExpiry, MaxApprovalExpiry)}
	items := d.list(n, "approvers", "approval")
	if field(n, "approvers") == nil {
		d.errNode(n, "approval.approvers", "required field is missing", "approvers: [commander] or [commander, deputy]")
	}
	for i, it := range items {
		p := fmt.Sprintf("approval.approvers[%d]", i)
		s, ok := d.str(it, p)
		if !ok {
			continue
		}
		r := roles.Role(s)
		if r != roles.Commander && r != roles.Deputy {
			d.errNode(it, p, "unknown approver role "+quote(s), "commander or deputy")
			continue
		}
		if slices.Contains(a.Approvers, r) {
			d.errNode(it, p, "approver role "+quote(s)+" is listed twice", "")
			continue
		}
		a.Approvers = append(a.Approvers, r)
	}
	if len(items) == 0 && field(n, "approvers") != nil {
		d.errNode(field(n, "approvers"), "approval.approvers", "name at least one approver role", "commander or deputy")
	}
	if pb.RunRole == roles.Commander && len(a.Approvers) == 1 && a.Approvers[0] == roles.Commander {
		d.errNode(field(n, "approvers"), "approval.approvers", "only the commander may run this playbook and only the commander may approve it: no one could approve a run",
			"add deputy to approvers (self-approval is never allowed)")
	}
	pb.Approval = a
}

func (d *pbDecoder) lock(root *ynode) {
	n := field(root, "lock")
	if n == nil || (n.kind == kNull && !n.bad()) {
		d.missing(root, n, "lock", "lock: {name: "+cmp.Or(d.pb.ID, "my-lock")+", timeout: 15m}; runs that touch the same thing share a lock name")
		return
	}
	if !d.fields(n, "lock", "name", "timeout") {
		return
	}
	name, nn := d.reqStr(n, "name", "lock")
	if nn != nil && !lockPattern.MatchString(name) {
		d.errNode(nn, "lock.name", "lock name "+quote(name)+" is not valid", "lower-case letters, digits and . _ : / -")
	}
	d.pb.Lock = Lock{Name: name, Timeout: d.duration(n, "timeout", "lock", DefaultLockTimeout, MaxLockTimeout)}
	if a := d.pb.Approval; a != nil && d.pb.Lock.Timeout <= a.Expires {
		at := field(n, "timeout")
		if at == nil {
			at = n
		}
		d.errNode(at, "lock.timeout", fmt.Sprintf("the lock's %s lease is not longer than the %s approval window", d.pb.Lock.Timeout, a.Expires),
			"the lease runs from the request to the end of the run; make it longer than approval.expires plus the steps")
	}
}

func (d *pbDecoder) varsAndSecrets(root *ynode) {
	if n := field(root, "vars"); n != nil && !n.bad() && n.kind != kNull {
		if d.fields(n, "vars", keysOf(n)...) {
			for i, k := range n.keys {
				v := n.vals[i]
				p := "vars." + k.str
				if !namePattern.MatchString(k.str) {
					d.errNode(k, p, "var name "+quote(k.str)+" is not valid", nameHint)
					continue
				}
				vr := Var{Name: k.str}
				switch v.kind {
				case kString:
					vr.Value = v.str
					if err := checkEnvRefs(v.str); err != nil {
						d.errNode(v, p, err.Error(), "write ${NAME}")
					}
				case kMap:
					if !d.fields(v, p, "env", "default") {
						continue
					}
					env, en := d.reqStr(v, "env", p)
					if en != nil && !envPattern.MatchString(env) {
						d.errNode(en, p+".env", "environment variable name "+quote(env)+" is not valid", "letters, digits and _")
					}
					vr.Env = env
					vr.Default, _ = d.optStr(v, "default", p)
				default:
					if !v.bad() {
						d.errNode(v, p, "expected a string or {env, default}, got "+describe(v), "")
					}
					continue
				}
				d.vars[k.str] = true
				d.pb.Vars = append(d.pb.Vars, vr)
			}
		}
	}
	if n := field(root, "secrets"); n != nil && !n.bad() && n.kind != kNull {
		if d.fields(n, "secrets", keysOf(n)...) {
			for i, k := range n.keys {
				v := n.vals[i]
				p := "secrets." + k.str
				if !namePattern.MatchString(k.str) {
					d.errNode(k, p, "secret name "+quote(k.str)+" is not valid", nameHint)
					continue
				}
				if v.kind != kString {
					if !v.bad() {
						d.errNode(v, p, "secrets must be ${ENV_VAR} references, got "+describe(v), "write ${ENV_VAR} and export the secret in the environment")
					}
					continue
				}
				var s config.Secret
				if err := s.UnmarshalText([]byte(v.str)); err != nil {
					// Never echo the value: it may be the secret itself.
					d.errNode(v, p, "secrets must be ${ENV_VAR} references, not literal values", "write ${ENV_VAR} and export the secret in the environment")
					continue
				}
				if val, set := os.LookupEnv(s.Env); set && val != "" && len(val) < MinSecretLen {
					d.errNode(v, p, fmt.Sprintf("the value of %s is too short to mask safely (under %d characters)", s.Env, MinSecretLen), "use a real credential")
				}
				d.secrets[k.str] = true
				d.pb.Secrets = append(d.pb.Secrets, SecretRef{Name: k.str, Secret: s})
			}
		}
	}
}

func keysOf(n *ynode) []string {
	out := make([]string, len(n.keys))
	for i, k := range n.keys {
		out[i] = k.str
	}
	return out
}

var paramFields = []string{"name", "type", "description", "default", "min", "max", "step", "values", "pattern", "max_len"}

func (d *pbDecoder) paramsList(root *ynode) {
	for i, n := range d.list(root, "params", "") {
		path := fmt.Sprintf("params[%d]", i)
		if !d.fields(n, path, paramFields...) {
			continue
		}
		name, nn := d.reqStr(n, "name", path)
		if nn == nil {
			continue
		}
		if !namePattern.MatchString(name) {
			d.errNode(nn, path+".name", "parameter name "+quote(name)+" is not valid", nameHint)
			continue
		}
		if _, dup := d.params[name]; dup {
			d.errNode(nn, path+".name", "duplicate parameter "+quote(name), "")
			continue
		}
		p := &Param{Name: name}
		p.Description, _ = d.reqStr(n, "description", path)
		t, tn := d.reqStr(n, "type", path)
		p.Type = ParamType(t)
		allowed := map[ParamType][]string{
			TypeInt:    {"min", "max", "step"},
			TypeFloat:  {"min", "max", "step"},
			TypeEnum:   {"values"},
			TypeBool:   {},
			TypeString: {"pattern", "max_len"},
		}
		extra, known := allowed[p.Type]
		if tn != nil && !known {
			d.errNode(tn, path+".type", "unknown parameter type "+quote(t), "int, float, enum, bool or string")
			continue
		}
		if tn == nil {
			continue
		}
		for _, k := range n.keys {
			if slices.Contains([]string{"min", "max", "step", "values", "pattern", "max_len"}, k.str) && !slices.Contains(extra, k.str) {
				d.errNode(k, path+"."+k.str, fmt.Sprintf("%s does not apply to a %s parameter", k.str, p.Type), "")
			}
		}
		ok := true
		switch p.Type {
		case TypeInt:
			ok = d.intBounds(n, path, p)
		case TypeFloat:
			ok = d.floatBounds(n, path, p)
		case TypeEnum:
			items := d.list(n, "values", path)
			if len(items) == 0 {
				d.errNode(cmp.Or(field(n, "values"), nn), path+".values", "an enum parameter needs values", "values: [a, b]")
				ok = false
			}
			for j, it := range items {
				s, sok := d.str(it, fmt.Sprintf("%s.values[%d]", path, j))
				if !sok {
					ok = false
					continue
				}
				if err := hygiene(s); err != nil || s == "" || len(s) > 64 {
					d.errNode(it, fmt.Sprintf("%s.values[%d]", path, j), "enum value "+quote(s)+" is not allowed", "at most 64 printable characters")
					ok = false
					continue
				}
				if slices.Contains(p.Values, s) {
					d.errNode(it, fmt.Sprintf("%s.values[%d]", path, j), "duplicate enum value "+quote(s), "")
					ok = false
					continue
				}
				p.Values = append(p.Values, s)
			}
		case TypeString:
			pat, pn := d.reqStr(n, "pattern", path)
			if pn != nil {
				re, err := regexp.Compile(`^(?:` + pat + `)$`)
				if err != nil {
					d.errNode(pn, path+".pattern", "invalid regular expression: "+err.Error(), "Go RE2 syntax; it must match the whole value")
					ok = false
				}
				p.Pattern = re
			} else {
				ok = false
			}
			ml := field(n, "max_len")
			switch {
			case ml == nil:
				d.errNode(nn, path+".max_len", "required field is missing", fmt.Sprintf("a string parameter needs max_len (at most %d)", MaxStringParam))
				ok = false
			case ml.bad():
				ok = false
			case ml.kind != kInt || ml.i < 1 || ml.i > MaxStringParam:
				d.errNode(ml, path+".max_len", fmt.Sprintf("max_len must be an integer from 1 to %d", MaxStringParam), "")
				ok = false
			default:
				p.MaxLen = int(ml.i)
			}
		}
		if dn := field(n, "default"); dn != nil && !dn.bad() && dn.kind != kNull && ok {
			raw := dn.str
			if dn.kind == kMap || dn.kind == kSeq {
				d.errNode(dn, path+".default", "expected a "+string(p.Type)+" value, got "+describe(dn), "")
			} else if v, err := p.parse(raw); err != nil {
				d.errNode(dn, path+".default", "default "+err.Error(), "")
			} else {
				c := canonical(v)
				p.Default = &c
			}
		}
		d.params[name] = p
		d.pb.Params = append(d.pb.Params, p)
	}
}

func (d *pbDecoder) number(m *ynode, key, path string, integer bool) (float64, int64, bool, bool) {
	v := field(m, key)
	if v == nil || (v.kind == kNull && !v.bad()) {
		return 0, 0, false, true
	}
	if v.bad() {
		return 0, 0, false, false
	}
	p := joinPath(path, key)
	switch {
	case v.kind == kInt:
		return float64(v.i), v.i, true, true
	case v.kind == kFloat && !integer:
		return v.f, 0, true, true
	case v.kind == kString && !v.quoted && yamlFloat.MatchString(v.str) && !integer:
		f, err := strconv.ParseFloat(v.str, 64)
		if err == nil && !math.IsInf(f, 0) {
			return f, 0, true, true
		}
	}
	want := "a number"
	if integer {
		want = "an integer"
	}
	d.errNode(v, p, "expected "+want+", got "+describe(v), "")
	return 0, 0, false, false
}

func (d *pbDecoder) intBounds(n *ynode, path string, p *Param) bool {
	_, lo, hasLo, ok1 := d.number(n, "min", path, true)
	_, hi, hasHi, ok2 := d.number(n, "max", path, true)
	_, st, hasSt, ok3 := d.number(n, "step", path, true)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	if !hasLo || !hasHi {
		d.errNode(field(n, "name"), path, "an int parameter needs min and max", "bounds are what stops a typo of 10x")
		return false
	}
	if lo > hi {
		d.errNode(field(n, "min"), path+".min", fmt.Sprintf("min %d is greater than max %d", lo, hi), "")
		return false
	}
	if !hasSt {
		st = 1
	}
	if st < 1 {
		d.errNode(field(n, "step"), path+".step", "step must be a positive integer", "")
		return false
	}
	p.IntMin, p.IntMax, p.IntStep = lo, hi, st
	return true
}

func (d *pbDecoder) floatBounds(n *ynode, path string, p *Param) bool {
	lo, _, hasLo, ok1 := d.number(n, "min", path, false)
	hi, _, hasHi, ok2 := d.number(n, "max", path, false)
	st, _, hasSt, ok3 := d.number(n, "step", path, false)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	if !hasLo || !hasHi {
		d.errNode(field(n, "name"), path, "a float parameter needs min and max", "bounds are what stops a typo of 10x")
		return false
	}
	if lo > hi {
		d.errNode(field(n, "min"), path+".min", fmt.Sprintf("min %g is greater than max %g", lo, hi), "")
		return false
	}
	if hasSt && st <= 0 {
		d.errNode(field(n, "step"), path+".step", "step must be positive", "")
		return false
	}
	p.Min, p.Max, p.Step, p.HasStep = lo, hi, st, hasSt
	return true
}

var stepFields = []string{"id", "name", "timeout", "read_only", "http", "exec", "wait_metric", "note", "slack"}
var stepKinds = []string{"http", "exec", "wait_metric", "note", "slack"}

func (d *pbDecoder) steps(root *ynode, key string) []*Step {
	var out []*Step
	for i, n := range d.list(root, key, "") {
		path := fmt.Sprintf("%s[%d]", key, i)
		if !d.fields(n, path, stepFields...) {
			continue
		}
		id, idn := d.reqStr(n, "id", path)
		if idn == nil {
			continue
		}
		if !stepIDPattern.MatchString(id) {
			d.errNode(idn, path+".id", "step id "+quote(id)+" is not valid", "lower-case letters, digits, - and _, starting with a letter, at most 32")
			continue
		}
		if _, dup := d.stepIDs[id]; dup {
			d.errNode(idn, path+".id", "duplicate step id "+quote(id), "step ids are unique across steps, verify and rollback")
			continue
		}
		s := &Step{ID: id, line: idn.line}
		d.cur = stepPos{section: key, index: i}
		s.Name, _ = d.optStr(n, "name", path)
		var kinds []string
		for _, k := range n.keys {
			if slices.Contains(stepKinds, k.str) {
				kinds = append(kinds, k.str)
			}
		}
		if len(kinds) != 1 {
			msg := "a step does exactly one thing: http, exec, wait_metric, note or slack"
			if len(kinds) > 1 {
				msg = "a step has one kind, not " + strings.Join(kinds, " and ")
			}
			d.errNode(idn, path, msg, "")
			continue
		}
		s.Kind = StepKind(kinds[0])
		s.ReadOnly = d.boolean(n, "read_only", path)
		body := field(n, kinds[0])
		bpath := path + "." + kinds[0]
		var dflt time.Duration
		switch s.Kind {
		case KindHTTP:
			dflt = DefaultHTTPTimeout
			s.HTTP = d.httpStep(body, bpath, s, field(n, "read_only"))
		case KindExec:
			dflt = DefaultExecTimeout
			s.Exec = d.execStep(body, bpath)
		case KindWaitMetric:
			s.Wait = d.waitStep(body, bpath)
			if s.Wait != nil {
				dflt = s.Wait.Timeout + 10*time.Second
			}
			if field(n, "read_only") != nil {
				d.errNode(field(n, "read_only"), path+".read_only", "read_only applies to http and exec steps", "")
			}
		case KindNote, KindSlack:
			dflt = DefaultMessageTimeout
			if txt, ok := d.str(body, bpath); ok {
				if strings.TrimSpace(txt) == "" || len(txt) > incident.MaxNoteLen {
					d.errNode(body, bpath, fmt.Sprintf("text must be 1 to %d bytes", incident.MaxNoteLen), "")
				} else if t, err := parseTemplate(txt); err != nil {
					d.errNode(body, bpath, err.Error(), "")
				} else {
					s.Text = t
					d.addTmpl(t, body, bpath, ctxText)
				}
			}
			if field(n, "read_only") != nil {
				d.errNode(field(n, "read_only"), path+".read_only", "read_only applies to http and exec steps", "")
			}
		}
		s.Timeout = d.duration(n, "timeout", path, dflt, MaxLockTimeout)
		d.stepIDs[id] = s
		d.stepPos[id] = d.cur
		out = append(out, s)
	}
	return out
}
