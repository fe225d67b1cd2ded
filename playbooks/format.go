// Package playbooks is warroom's scripted mitigations: the playbook file
// format and its strict validation, typed parameters, dry runs, and the
// runner that executes a run step by step with every transition recorded
// as a RUN event in the incident journal.
//
// Safety is structural rather than a matter of care:
//   - Playbooks come only from the reviewed catalog directory; people pick
//     one and fill its typed parameters, never submit a body.
//   - Parameter values are validated (type, bounds, step, enum, pattern,
//     length, no control characters) before anything is requested.
//   - Nothing builds a shell string. http steps escape path values as one
//     segment and build JSON with encoding/json; exec steps take a literal
//     argv and receive parameters only as WARROOM_PARAM_<NAME> variables,
//     in their own process group that is killed whole on cancel or timeout.
//   - Approval, locks and run state are decided by the incident engine
//     (incident.RequestRun, ApproveRun, StartRun, …), atomically, in the
//     single writer; the runner does the I/O.
//   - Secrets are ${ENV} references resolved at the step, usable only in
//     headers and exec secret_env, and masked (raw, base64, URL-encoded,
//     JSON-escaped) in everything the runner writes or shows.
package playbooks

import (
	"regexp"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/roles"
)

// Risk is a playbook's risk level. high and critical need an approval.
type Risk string

const (
	RiskLow      Risk = "low"
	RiskMedium   Risk = "medium"
	RiskHigh     Risk = "high"
	RiskCritical Risk = "critical"
)

// Playbook is one validated playbook file.
type Playbook struct {
	ID          string
	Title       string
	Service     string
	Description string
	Risk        Risk
	// RunRole is who may request a run: roles.Owner (the service's
	// owner or backup, the commander or the deputy; the default),
	// roles.Deputy (commander or deputy) or roles.Commander.
	RunRole  roles.Role
	Approval *Approval // nil: no approval needed (risk low or medium only)
	Lock     Lock

	Vars    []Var
	Secrets []SecretRef
	Params  []*Param

	Steps    []*Step
	Verify   []*Step
	Rollback []*Step
	// OnFailure and OnVerifyFailure: "rollback" (run the rollback steps
	// at once) or "ask" (hold the lock and let the commander decide).
	OnFailure       string
	OnVerifyFailure string

	File   string // path of the file it was read from
	Digest string // sha256 of the file: part of every run's hash
	// dir is the file's directory made absolute when it was read: exec
	// steps' programs and working directories resolve against it, once,
	// whatever the working directory of warroom is.
	dir string
}

// Approval is the approval gate before the first step.
type Approval struct {
	Approvers []roles.Role  // commander, deputy
	Expires   time.Duration // request window, and approval validity
}

// Lock is the named lock a run holds from its request to its end.
type Lock struct {
	Name    string
	Timeout time.Duration // lease; also the run's whole deadline
}

// Var is a plain (non-secret) value: a literal, or an environment
// variable with an optional default. Base URLs live here.
type Var struct {
	Name    string
	Value   string // literal, may contain ${ENV}
	Env     string // or the environment variable to read
	Default string
}

// SecretRef names a secret and the environment variable holding it.
type SecretRef struct {
	Name   string
	Secret config.Secret
}

// ParamType is a parameter's type.
type ParamType string

const (
	TypeInt    ParamType = "int"
	TypeFloat  ParamType = "float"
	TypeEnum   ParamType = "enum"
	TypeBool   ParamType = "bool"
	TypeString ParamType = "string"
)

// Param is one typed parameter.
type Param struct {
	Name        string
	Type        ParamType
	Description string
	Default     *string // canonical text; nil: required

	// int
	IntMin, IntMax, IntStep int64
	// float
	Min, Max, Step float64
	HasStep        bool
	// enum
	Values []string
	// string
	Pattern *regexp.Regexp
	MaxLen  int
}

// StepKind is what a step does.
type StepKind string

const (
	KindHTTP       StepKind = "http"
	KindExec       StepKind = "exec"
	KindWaitMetric StepKind = "wait_metric"
	KindNote       StepKind = "note"
	KindSlack      StepKind = "slack"
)

// Step is one step of steps, verify or rollback.
type Step struct {
	ID       string
	Name     string
	Kind     StepKind
	Timeout  time.Duration
	ReadOnly bool // changes nothing: runs in a dry run

	HTTP *HTTPStep
	Exec *ExecStep
	Wait *WaitStep
	Text *tmpl // note, slack

	line int
}

// Mutates reports whether the step may change something outside warroom.
func (s *Step) Mutates() bool {
	switch s.Kind {
	case KindHTTP:
		return !s.ReadOnly
	case KindExec:
		return !s.ReadOnly
	}
	return false
}

// HTTPStep is a request.
type HTTPStep struct {
	Method  string
	URL     *urlTemplate
	Headers []header
	JSON    *jnode // nil: no body
	Save    []save
	Expect  []int // empty: any 2xx
	Retries int   // idempotent methods only
	Diff    string
}

type header struct {
	Name  string
	Value *tmpl
}

type save struct {
	Name   string
	Header string   // header:NAME
	Path   []string // json:$.a.b[0] → ["a","b","[0]"]
	Source string   // as written
}

// ExecStep runs a program with a literal argv.
type ExecStep struct {
	Argv      []string
	Dir       string
	Env       []envVar // extra variables (templates; no params, no secrets)
	SecretEnv []secretEnv
}

type envVar struct {
	Name  string
	Value *tmpl
}

type secretEnv struct {
	Name   string // environment variable for the process
	Secret string // secrets.NAME
}

// WaitStep waits until a pane's live value meets a condition for a while.
type WaitStep struct {
	Service, Pane string
	Op            string // < <= > >= == !=
	Value         *tmpl  // a number, or a template giving one
	For           time.Duration
	Timeout       time.Duration
	MaxAge        time.Duration // a value older than this is stale
	Condition     string        // as written
}

// jnode is a JSON body template: objects keep file order.
type jnode struct {
	kind kind
	keys []string
	vals []*jnode
	str  *tmpl // kString
	num  float64
	i    int64
	b    bool
}
