package playbooks

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
)

var httpMethods = []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete}

// idempotent methods may be retried: sending them twice has the effect of
// sending them once.
func idempotent(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodPut || m == http.MethodDelete
}

// Headers a playbook may not set: the transport owns them.
var reservedHeaders = []string{"host", "content-length", "transfer-encoding", "connection", "content-type", "te", "trailer", "upgrade"}

func (d *pbDecoder) httpStep(n *ynode, path string, s *Step, readOnly *ynode) *HTTPStep {
	if !d.fields(n, path, "method", "url", "headers", "json", "save", "expect", "retries", "diff") {
		return nil
	}
	h := &HTTPStep{}
	m, mn := d.reqStr(n, "method", path)
	if mn != nil {
		if !slices.Contains(httpMethods, m) {
			d.errNode(mn, path+".method", "unknown method "+quote(m), "GET, HEAD, PUT, POST, PATCH or DELETE (upper case)")
		}
		h.Method = m
	}
	readOnlyMethod := h.Method == http.MethodGet || h.Method == http.MethodHead
	if s.ReadOnly && !readOnlyMethod && mn != nil {
		d.errNode(readOnly, strings.TrimSuffix(path, ".http")+".read_only", "a "+h.Method+" request changes something: it cannot be read_only", "only GET and HEAD are read-only")
	}
	s.ReadOnly = readOnlyMethod

	if u, un := d.reqStr(n, "url", path); un != nil {
		ut, err := parseURLTemplate(u)
		if err != nil {
			d.errNode(un, path+".url", err.Error(), `write url: "{{vars.admin}}/path/{{params.name}}" or a literal http(s)://host/… prefix`)
		} else {
			h.URL = ut
			if ut.baseVar != "" && !d.vars[ut.baseVar] {
				d.errNode(un, path+".url", "no var "+quote(ut.baseVar), suggest(ut.baseVar, mapKeys(d.vars)))
			}
			d.addTmpl(ut.rest, un, path+".url", ctxURL)
		}
	}

	if hn := field(n, "headers"); hn != nil && !hn.bad() && hn.kind != kNull {
		if d.fields(hn, path+".headers", keysOf(hn)...) {
			for i, k := range hn.keys {
				p := path + ".headers." + k.str
				if !headerPattern.MatchString(k.str) {
					d.errNode(k, p, "invalid header name "+quote(k.str), "")
					continue
				}
				if slices.Contains(reservedHeaders, strings.ToLower(k.str)) {
					d.errNode(k, p, "header "+k.str+" is set by warroom, not by playbooks", "")
					continue
				}
				v, ok := d.str(hn.vals[i], p)
				if !ok {
					continue
				}
				if strings.ContainsAny(v, "\r\n\x00") {
					d.errNode(hn.vals[i], p, "header values cannot contain line breaks", "")
					continue
				}
				t, err := parseTemplate(v)
				if err != nil {
					d.errNode(hn.vals[i], p, err.Error(), "")
					continue
				}
				h.Headers = append(h.Headers, header{Name: http.CanonicalHeaderKey(k.str), Value: t})
				d.addTmpl(t, hn.vals[i], p, ctxHeader)
			}
		}
	}

	if jn := field(n, "json"); jn != nil && !jn.bad() {
		if readOnlyMethod {
			d.errNode(jn, path+".json", "a "+h.Method+" request has no body", "")
		} else {
			h.JSON = d.jsonBody(jn, path+".json", 0)
		}
	}

	if sn := field(n, "save"); sn != nil && !sn.bad() && sn.kind != kNull {
		if d.fields(sn, path+".save", keysOf(sn)...) {
			for i, k := range sn.keys {
				p := path + ".save." + k.str
				if !namePattern.MatchString(k.str) {
					d.errNode(k, p, "save name "+quote(k.str)+" is not valid", nameHint)
					continue
				}
				src, ok := d.str(sn.vals[i], p)
				if !ok {
					continue
				}
				sv, err := parseSave(k.str, src)
				if err != nil {
					d.errNode(sn.vals[i], p, err.Error(), `json:$.field.sub[0] or header:ETag`)
					continue
				}
				h.Save = append(h.Save, sv)
			}
		}
	}

	if en := field(n, "expect"); en != nil && !en.bad() && en.kind != kNull {
		items := []*ynode{en}
		if en.kind == kSeq {
			items = en.vals
		}
		for i, it := range items {
			p := path + ".expect"
			if en.kind == kSeq {
				p = fmt.Sprintf("%s[%d]", p, i)
			}
			if it.kind != kInt || it.i < 100 || it.i > 599 {
				if !it.bad() {
					d.errNode(it, p, "expected an HTTP status code (100-599), got "+describe(it), "expect: [200, 204]")
				}
				continue
			}
			h.Expect = append(h.Expect, int(it.i))
		}
	}

	if rn := field(n, "retries"); rn != nil && !rn.bad() && rn.kind != kNull {
		switch {
		case rn.kind != kInt || rn.i < 0 || rn.i > MaxRetries:
			d.errNode(rn, path+".retries", fmt.Sprintf("retries must be an integer from 0 to %d", MaxRetries), "")
		case rn.i > 0 && mn != nil && !idempotent(h.Method):
			d.errNode(rn, path+".retries", "a "+h.Method+" request is not retried: if the first attempt went through, a retry applies it twice",
				"retries are for idempotent methods (GET, HEAD, PUT, DELETE)")
		default:
			h.Retries = int(rn.i)
		}
	}
	if dn := field(n, "diff"); dn != nil && !dn.bad() {
		if v, ok := d.str(dn, path+".diff"); ok {
			h.Diff = v
			d.diffs = append(d.diffs, diffUse{step: v, n: dn, path: path + ".diff", at: d.cur})
		}
	}
	return h
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func parseSave(name, src string) (save, error) {
	sv := save{Name: name, Source: src}
	switch {
	case strings.HasPrefix(src, "header:"):
		h := strings.TrimPrefix(src, "header:")
		if !headerPattern.MatchString(h) {
			return sv, fmt.Errorf("invalid header name %s", quote(h))
		}
		sv.Header = http.CanonicalHeaderKey(h)
	case strings.HasPrefix(src, "json:$"):
		rest := strings.TrimPrefix(src, "json:$")
		for rest != "" {
			m := jsonPathPart.FindString(rest)
			if m == "" {
				return sv, fmt.Errorf("invalid JSON path %s at %s", quote(src), quote(rest))
			}
			switch {
			case strings.HasPrefix(m, "."):
				sv.Path = append(sv.Path, m[1:])
			case strings.HasPrefix(m, `["`):
				sv.Path = append(sv.Path, m[2:len(m)-2])
			default:
				sv.Path = append(sv.Path, m) // [N]
			}
			rest = rest[len(m):]
			if len(sv.Path) > 16 {
				return sv, errors.New("JSON path is deeper than 16 levels")
			}
		}
	default:
		return sv, fmt.Errorf("save source %s is neither json:$… nor header:…", quote(src))
	}
	return sv, nil
}

func (d *pbDecoder) jsonBody(n *ynode, path string, depth int) *jnode {
	if depth > 16 {
		d.errNode(n, path, "JSON body is nested deeper than 16 levels", "")
		return nil
	}
	j := &jnode{kind: n.kind}
	switch n.kind {
	case kNull:
	case kBool:
		j.b = n.b
	case kInt:
		j.i, j.num = n.i, float64(n.i)
	case kFloat:
		j.num = n.f
	case kString:
		t, err := parseTemplate(n.str)
		if err != nil {
			d.errNode(n, path, err.Error(), "")
			return nil
		}
		j.str = t
		d.addTmpl(t, n, path, ctxJSON)
	case kMap:
		for i, k := range n.keys {
			c := d.jsonBody(n.vals[i], path+"."+k.str, depth+1)
			if c == nil {
				return nil
			}
			j.keys = append(j.keys, k.str)
			j.vals = append(j.vals, c)
		}
	case kSeq:
		for i, v := range n.vals {
			c := d.jsonBody(v, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if c == nil {
				return nil
			}
			j.vals = append(j.vals, c)
		}
	}
	return j
}

var (
	execEnvName     = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}$`)
	forbiddenEnv    = []string{"PATH", "HOME", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "PS4", "CDPATH", "GLOBIGNORE"}
	forbiddenPrefix = []string{"WARROOM_", "LD_", "BASH_FUNC_", "GCONV", "DYLD_"}
)

func (d *pbDecoder) envName(k *ynode, p string) bool {
	if !execEnvName.MatchString(k.str) {
		d.errNode(k, p, "environment variable name "+quote(k.str)+" is not valid", "upper-case letters, digits and _")
		return false
	}
	if slices.Contains(forbiddenEnv, k.str) {
		d.errNode(k, p, k.str+" is set by warroom and cannot be overridden", "")
		return false
	}
	for _, pre := range forbiddenPrefix {
		if strings.HasPrefix(k.str, pre) {
			d.errNode(k, p, "environment variables starting with "+pre+" are reserved", "WARROOM_PARAM_<NAME> carries each parameter")
			return false
		}
	}
	return true
}

func (d *pbDecoder) execStep(n *ynode, path string) *ExecStep {
	if !d.fields(n, path, "argv", "dir", "env", "secret_env") {
		return nil
	}
	e := &ExecStep{}
	an := field(n, "argv")
	items := d.list(n, "argv", path)
	if an == nil {
		d.errNode(n, path+".argv", "required field is missing", "argv: [./scripts/drain.sh, --fast]")
	} else if len(items) == 0 && !an.bad() && an.kind == kSeq {
		d.errNode(an, path+".argv", "argv needs at least the program", "")
	}
	for i, it := range items {
		p := fmt.Sprintf("%s.argv[%d]", path, i)
		s, ok := d.str(it, p)
		if !ok {
			continue
		}
		if strings.Contains(s, "{{") || strings.Contains(s, "}}") {
			d.errNode(it, p, "argv is literal: templates are not allowed here",
				"parameters reach the process only as environment variables WARROOM_PARAM_<NAME>; read them there")
			continue
		}
		if strings.ContainsRune(s, 0) || (i == 0 && strings.TrimSpace(s) == "") {
			d.errNode(it, p, "invalid argument", "")
			continue
		}
		e.Argv = append(e.Argv, s)
	}
	if dir, dn := d.optStr(n, "dir", path); dn != nil {
		if strings.Contains(dir, "{{") || strings.ContainsRune(dir, 0) {
			d.errNode(dn, path+".dir", "dir is a literal path", "")
		}
		e.Dir = dir
	}
	if en := field(n, "env"); en != nil && !en.bad() && en.kind != kNull {
		if d.fields(en, path+".env", keysOf(en)...) {
			for i, k := range en.keys {
				p := path + ".env." + k.str
				if !d.envName(k, p) {
					continue
				}
				v, ok := d.str(en.vals[i], p)
				if !ok {
					continue
				}
				t, err := parseTemplate(v)
				if err != nil {
					d.errNode(en.vals[i], p, err.Error(), "")
					continue
				}
				e.Env = append(e.Env, envVar{Name: k.str, Value: t})
				d.addTmpl(t, en.vals[i], p, ctxExecEnv)
			}
		}
	}
	if sn := field(n, "secret_env"); sn != nil && !sn.bad() && sn.kind != kNull {
		if d.fields(sn, path+".secret_env", keysOf(sn)...) {
			for i, k := range sn.keys {
				p := path + ".secret_env." + k.str
				if !d.envName(k, p) {
					continue
				}
				v, ok := d.str(sn.vals[i], p)
				if !ok {
					continue
				}
				name := strings.TrimPrefix(v, "secrets.")
				if !d.secrets[name] {
					d.errNode(sn.vals[i], p, "no secret "+quote(name), "name an entry of secrets:, e.g. secrets.admin_token")
					continue
				}
				e.SecretEnv = append(e.SecretEnv, secretEnv{Name: k.str, Secret: name})
			}
		}
	}
	return e
}

var conditionPattern = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$`)

func (d *pbDecoder) waitStep(n *ynode, path string) *WaitStep {
	if !d.fields(n, path, "condition", "for", "timeout", "max_age") {
		return nil
	}
	w := &WaitStep{}
	c, cn := d.reqStr(n, "condition", path)
	if cn != nil {
		m := conditionPattern.FindStringSubmatch(c)
		if m == nil {
			d.errNode(cn, path+".condition", "condition "+quote(c)+" is not service/pane op value", `e.g. condition: "tokens/p95 < 0.5" (op: < <= > >= == !=)`)
		} else {
			w.Service, w.Pane, w.Op, w.Condition = m[1], m[2], m[3], c
			val := m[4]
			if !strings.Contains(val, "{{") {
				if !yamlFloat.MatchString(val) {
					d.errNode(cn, path+".condition", "threshold "+quote(val)+" is not a number", "a plain number in the pane's unit, or {{params.name}}")
				}
				val = strings.TrimPrefix(val, "+")
				w.Value = &tmpl{raw: val, parts: []tpart{{lit: val}}}
			} else if t, err := parseTemplate(val); err != nil {
				d.errNode(cn, path+".condition", err.Error(), "")
			} else if t.single() == nil {
				d.errNode(cn, path+".condition", "the threshold must be a number or a single {{…}}", "")
			} else {
				w.Value = t
				d.addTmpl(t, cn, path+".condition", ctxWait)
			}
			if d.cfg != nil {
				svc := d.cfg.Service(w.Service)
				switch {
				case svc == nil:
					d.errNode(cn, path+".condition", "no service "+quote(w.Service)+" in "+d.cfg.Path, suggest(w.Service, d.serviceIDs()))
				default:
					var panes []string
					found := false
					for _, p := range svc.Panes {
						panes = append(panes, p.ID)
						found = found || p.ID == w.Pane
					}
					if !found {
						d.errNode(cn, path+".condition", "service "+w.Service+" has no pane "+quote(w.Pane), suggest(w.Pane, panes))
					}
				}
			}
		}
	}
	w.For = d.duration(n, "for", path, 30*time.Second, MaxLockTimeout)
	w.Timeout = d.duration(n, "timeout", path, DefaultWaitTimeout, MaxLockTimeout)
	w.MaxAge = d.duration(n, "max_age", path, DefaultMaxAge, MaxLockTimeout)
	if w.Timeout <= w.For {
		d.errNode(cmp.Or(field(n, "timeout"), n), path+".timeout", fmt.Sprintf("timeout %s must be longer than for %s", w.Timeout, w.For), "")
	}
	return w
}

func (d *pbDecoder) serviceIDs() []string {
	if d.cfg == nil {
		return nil
	}
	out := make([]string, len(d.cfg.Services))
	for i, s := range d.cfg.Services {
		out[i] = s.ID
	}
	return out
}

// diffUse is an http step's diff: naming the capture step to compare with.
type diffUse struct {
	step string
	n    *ynode
	path string
	at   stepPos
}

// visible reports whether a step at pos can read values step id saved:
// an earlier step of the same section, or any step of steps from verify
// and rollback.
func (d *pbDecoder) visible(id string, at stepPos) (bool, string) {
	pos, ok := d.stepPos[id]
	if !ok {
		return false, "no step " + quote(id)
	}
	if pos.section == at.section {
		if pos.index < at.index {
			return true, ""
		}
		return false, "step " + quote(id) + " does not run before this one"
	}
	if pos.section == "steps" {
		return true, ""
	}
	return false, "step " + quote(id) + " is in " + pos.section + " and its values are not available here"
}

// checkRefs checks every template's references once all is decoded.
func (d *pbDecoder) checkRefs() {
	for _, u := range d.tmplNodes {
		for _, r := range u.t.refs() {
			msg, hint := d.checkRef(r, u)
			if msg != "" {
				d.errNode(u.n, u.path, msg, hint)
			}
		}
	}
	for _, u := range d.diffs {
		ok, why := d.visible(u.step, u.at)
		if !ok {
			d.errNode(u.n, u.path, "diff: "+why, "name a GET step of steps whose response has the same fields")
			continue
		}
		if s := d.stepIDs[u.step]; s.Kind != KindHTTP || s.Mutates() {
			d.errNode(u.n, u.path, "diff: step "+quote(u.step)+" is not a GET request", "")
		}
	}
}

func (d *pbDecoder) checkRef(r *ref, u tmplUse) (string, string) {
	switch r.ns {
	case "secrets":
		if u.ctx != ctxHeader {
			return "secrets can only be used in request headers", "pass them to processes with secret_env; never into URLs, bodies or messages"
		}
		if !d.secrets[r.name] {
			return "no secret " + quote(r.name), suggest(r.name, mapKeys(d.secrets))
		}
	case "params":
		if u.ctx == ctxExecEnv {
			return "parameters reach a process only as WARROOM_PARAM_" + strings.ToUpper(r.name), "remove it from env"
		}
		if _, ok := d.params[r.name]; !ok {
			return "no parameter " + quote(r.name), suggest(r.name, paramNames(d.params))
		}
	case "vars":
		if !d.vars[r.name] {
			return "no var " + quote(r.name), suggest(r.name, mapKeys(d.vars))
		}
	case "steps":
		ok, why := d.visible(r.step, u.at)
		if !ok {
			return r.String() + ": " + why, ""
		}
		s := d.stepIDs[r.step]
		if s.HTTP == nil {
			return r.String() + ": step " + quote(r.step) + " saves no values", "only http steps save values"
		}
		var names []string
		for _, sv := range s.HTTP.Save {
			names = append(names, sv.Name)
			if sv.Name == r.name {
				return "", ""
			}
		}
		return r.String() + ": step " + quote(r.step) + " saves no " + quote(r.name), suggest(r.name, names)
	}
	return "", ""
}

func paramNames(m map[string]*Param) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkEnvRefs reports a malformed ${…}.
func checkEnvRefs(s string) error {
	if strings.Contains(envRefPattern.ReplaceAllString(s, ""), "${") {
		return errors.New("malformed ${...} reference")
	}
	return nil
}

// suggest proposes the closest candidate or lists them.
func suggest(got string, candidates []string) string {
	return config.Suggest(got, candidates, "one of")
}
