package tui

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

const wafHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// fakeRunner is a PlaybookRunner that records every call.
type fakeRunner struct {
	fakePlaybooks
	mu         sync.Mutex
	calls      []string
	dryErr     error
	requestErr error
	approveErr error
	rejectErr  error
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{fakePlaybooks: fakePlaybooks{
		{Name: "waf-mode", Title: "Switch the Cloudflare WAF mode", Service: "cloudflare", Summary: "high risk"},
		{Name: "scale-db", Title: "Scale the tokens DB pool", Service: "tokens", Summary: "medium risk"},
		{Name: "rpc-split", Title: "Drain an RPC provider", Service: "triton", Summary: "high risk"},
	}}
}

func (f *fakeRunner) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeRunner) callsWith(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeRunner) RunPolicy(name string) (incident.RunPolicy, bool) {
	switch name {
	case "waf-mode":
		return incident.RunPolicy{Service: "cloudflare", RunRole: roles.Owner, Approvers: []roles.Role{roles.Commander, roles.Deputy},
			ApprovalTimeout: 10 * time.Minute, Lock: "waf", LockTimeout: 30 * time.Minute}, true
	case "scale-db":
		return incident.RunPolicy{Service: "tokens", RunRole: roles.Owner, Lock: "db", LockTimeout: 30 * time.Minute}, true
	case "rpc-split":
		return incident.RunPolicy{Service: "triton", RunRole: roles.Owner, Approvers: []roles.Role{roles.Commander, roles.Deputy},
			ApprovalTimeout: 10 * time.Minute, Lock: "rpc-split", LockTimeout: 15 * time.Minute}, true
	}
	return incident.RunPolicy{}, false
}

func (f *fakeRunner) CancelRun(_ context.Context, by, id, reason string) error {
	f.record("cancel " + by + " " + id)
	return nil
}

func (f *fakeRunner) ResolveRun(_ context.Context, by, id string, choice incident.ResolveChoice, _ string) error {
	f.record("resolve " + by + " " + id + " " + string(choice))
	return nil
}

func (f *fakeRunner) PlaybookForm(name string) ([]ParamField, bool) {
	switch name {
	case "waf-mode":
		return []ParamField{
			{Name: "mode", Type: "enum", Description: "what the WAF does with matches", Default: "challenge", HasDefault: true,
				Values: []string{"log", "challenge", "block"}, Constraint: "one of log, challenge, block"},
			{Name: "threshold", Type: "int", Description: "score at which a request matches", Default: "80", HasDefault: true, Constraint: "integer from 1 to 100"},
			{Name: "notify", Type: "bool", Description: "post to #status", Default: "true", HasDefault: true, Constraint: "true or false"},
		}, true
	case "scale-db":
		return nil, true
	case "rpc-split":
		return []ParamField{{Name: "provider", Type: "enum", Description: "the provider to drain", Values: []string{"triton", "quicknode"}, Constraint: "one of triton, quicknode"}}, true
	}
	return nil, false
}

func (f *fakeRunner) ValidatePlaybookParams(name string, raw map[string]string) map[string]string {
	fields, _ := f.PlaybookForm(name)
	errs := map[string]string{}
	for _, fl := range fields {
		v, ok := raw[fl.Name]
		if !ok {
			v = fl.Default
		}
		switch fl.Type {
		case "int":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				errs[fl.Name] = fmt.Sprintf("%q is not an %s", v, fl.Constraint)
			}
		case "enum":
			if !strings.Contains(","+strings.Join(fl.Values, ",")+",", ","+v+",") {
				errs[fl.Name] = "not " + fl.Constraint
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func paramText(raw map[string]string) string {
	return fmt.Sprintf("mode=%s threshold=%s notify=%s", raw["mode"], raw["threshold"], raw["notify"])
}

func (f *fakeRunner) DryRunPlaybook(_ context.Context, name string, raw map[string]string) (*DryRunPlan, error) {
	f.record("dryrun " + name + " " + paramText(raw))
	if f.dryErr != nil {
		return nil, f.dryErr
	}
	text := "DRY RUN of " + name + ": Switch the Cloudflare WAF mode\n" +
		"parameters: " + paramText(raw) + "\n" +
		"parameter hash: " + wafHash[:12] + "\n" +
		"\nsteps:\n" +
		"  1. read-settings [http, ran]\n" +
		"     GET https://api.cloudflare.test/zones/z1/firewall/waf\n" +
		"  2. set-mode [http, planned]\n" +
		"     PATCH https://api.cloudflare.test/zones/z1/firewall/waf {\"mode\":\"" + raw["mode"] + "\"}\n" +
		"     change: mode challenge → " + raw["mode"] + "\n" +
		"     change: threshold 80 → " + raw["threshold"] + "\n"
	plan := &incident.RunPlan{Risk: "high", At: tNow.UTC(), Changes: []incident.PlanChange{{Step: "set-mode", Field: "mode", Old: "challenge", New: raw["mode"]}}}
	return &DryRunPlan{Text: text, Hash: wafHash, Summary: paramText(raw), Plan: plan}, nil
}

func (f *fakeRunner) RequestPlaybookRun(_ context.Context, by, name string, raw map[string]string, _ *DryRunPlan) (string, error) {
	f.record("request " + by + " " + name + " " + paramText(raw))
	if f.requestErr != nil {
		return "", f.requestErr
	}
	return "R42", nil
}

func (f *fakeRunner) ApproveRun(_ context.Context, by, id, hash string) error {
	f.record("approve " + by + " " + id + " " + hash)
	return f.approveErr
}

func (f *fakeRunner) RejectRun(_ context.Context, by, id, reason string) error {
	f.record("reject " + by + " " + id + " " + reason)
	return f.rejectErr
}

func newRunnerModel(t testing.TB, f *fakeEngine, r *fakeRunner, handle string, w, h int) *Model {
	t.Helper()
	m := New(Options{Engine: f, Handle: handle, Width: w, Height: h, Profile: colorprofile.ASCII, Theme: ThemeDark, NoTick: true, Playbooks: r})
	st, sub, err := f.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Update(snapshotMsg{st: st, sub: sub})
	m.Update(tickMsg{now: f.clk.Now()})
	return m
}

// requestedByCleo feeds the model cleo's waf-mode request awaiting approval.
func requestedByCleo(m *Model) {
	seq := m.st.LastSeq
	at := tNow.Add(-time.Minute).UTC()
	params := map[string]string{"mode": "block", "threshold": "80", "notify": "true"}
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Events: []incident.Event{
		{Seq: seq + 1, Time: at, Kind: incident.KindRun, Actor: "cleo", Service: "cloudflare", Text: "cleo requested R" + strconv.Itoa(int(seq+1)) + " waf-mode (mode=block threshold=80 notify=true)",
			Run: &incident.RunInfo{ID: "R" + strconv.Itoa(int(seq+1)), Playbook: "waf-mode", State: incident.RunRequested, Params: params, Hash: wafHash}},
		{Seq: seq + 2, Time: at, Kind: incident.KindRun, Actor: "cleo", Service: "cloudflare", Text: "awaits approval",
			Run: &incident.RunInfo{ID: "R" + strconv.Itoa(int(seq+1)), Playbook: "waf-mode", State: incident.RunAwaitingApproval}},
	}}}})
}

func formOf(t *testing.T, m *Model) *playbookForm {
	t.Helper()
	if m.overlay != overlayChooser || m.chooser == nil {
		t.Fatalf("no dialog open (overlay %d)", m.overlay)
	}
	f, ok := m.chooser.dialog.(*playbookForm)
	if !ok {
		t.Fatalf("the open dialog is %T, not the playbook form", m.chooser.dialog)
	}
	return f
}

func openWaf(t *testing.T, m *Model) *playbookForm {
	t.Helper()
	press(m, ":")
	typeText(m, "waf mode")
	press(m, "enter")
	return formOf(t, m)
}

func TestPlaybookFormFieldsAndValidation(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "cleo", 120, 40)
	form := openWaf(t, m)
	wantScreen(t, m, "Run playbook waf-mode (Cloudflare Security)", "mode", "◀ challenge ▶", "threshold", "notify", "[x] true")
	if form.focus != 0 {
		t.Fatalf("focus %d, want the first field", form.focus)
	}
	// Enum cycling, both ways, wrapping.
	press(m, "right")
	if got := form.raw()["mode"]; got != "block" {
		t.Fatalf("right: mode %q, want block", got)
	}
	press(m, "right")
	if got := form.raw()["mode"]; got != "log" {
		t.Fatalf("right wraps: mode %q, want log", got)
	}
	press(m, "left", "left")
	if got := form.raw()["mode"]; got != "challenge" {
		t.Fatalf("left: mode %q, want challenge", got)
	}
	// Field navigation.
	press(m, "tab")
	if form.focus != 1 {
		t.Fatalf("tab: focus %d, want 1", form.focus)
	}
	press(m, "tab", "tab")
	if form.focus != 0 {
		t.Fatalf("tab wraps: focus %d, want 0", form.focus)
	}
	press(m, "shift+tab")
	if form.focus != 2 {
		t.Fatalf("shift+tab: focus %d, want 2", form.focus)
	}
	press(m, "space")
	if got := form.raw()["notify"]; got != "false" {
		t.Fatalf("space toggles the bool: %q", got)
	}
	// An out-of-bounds int shows the field's error and blocks the dry run.
	press(m, "shift+tab", "backspace", "backspace")
	typeText(m, "500")
	if got := form.raw()["threshold"]; got != "500" {
		t.Fatalf("threshold %q", got)
	}
	wantScreen(t, m, `✗ "500" is not an integer from 1 to 100`, "Fix the marked values")
	press(m, "enter")
	if c := r.callsWith("dryrun"); len(c) != 0 {
		t.Fatalf("an invalid form must not dry-run: %v", c)
	}
	if form.stage != stageForm {
		t.Fatalf("stage %d after enter on an invalid form", form.stage)
	}
	press(m, "backspace", "backspace", "backspace")
	typeText(m, "95")
	if len(form.errs) != 0 {
		t.Fatalf("errors after a valid value: %v", form.errs)
	}
	press(m, "esc")
	if m.overlay != overlayNone {
		t.Fatal("esc must close the form")
	}
	wantToast(t, m, "cancelled")
	if c := r.callsWith(""); len(c) != 0 {
		t.Fatalf("calls after cancel: %v", c)
	}
}

func TestPlaybookDryRunConfirmRequest(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "cleo", 120, 40)
	openWaf(t, m)
	press(m, "right", "tab", "ctrl+u")
	typeText(m, "90")
	press(m, "enter")
	if got, want := r.callsWith("dryrun"), []string{"dryrun waf-mode mode=block threshold=90 notify=true"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("dry run calls %v, want %v", got, want)
	}
	if c := r.callsWith("request"); len(c) != 0 {
		t.Fatalf("requested before confirmation: %v", c)
	}
	form := formOf(t, m)
	if form.stage != stageConfirm {
		t.Fatalf("stage %d, want the confirmation", form.stage)
	}
	wantScreen(t, m, "Confirm: request this run?", "change: mode challenge → block", "change: threshold 80 → 90",
		"PATCH https://api.cloudflare.test/zones/z1/firewall/waf", "Nothing has been requested yet")
	// Scrolling and other keys do not request.
	press(m, "down", "up", "x")
	if c := r.callsWith("request"); len(c) != 0 {
		t.Fatalf("requested without y: %v", c)
	}
	press(m, "y")
	if got, want := r.callsWith("request"), []string{"request cleo waf-mode mode=block threshold=90 notify=true"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("request calls %v, want %v", got, want)
	}
	if m.overlay != overlayNone {
		t.Fatal("the dialog stays open after the request")
	}
	wantToast(t, m, "✓ requested R42 waf-mode", "awaits approval by the commander or deputy")
	if len(f.commands()) != 0 {
		t.Fatalf("the dialog sent engine commands itself: %v", f.commands())
	}
}

func TestPlaybookConfirmEscAndEdit(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "cleo", 120, 40)
	openWaf(t, m)
	press(m, "enter", "e")
	if formOf(t, m).stage != stageForm {
		t.Fatal("e goes back to the form")
	}
	press(m, "right", "enter", "esc")
	if m.overlay != overlayNone {
		t.Fatal("esc closes the confirmation")
	}
	if c := r.callsWith("request"); len(c) != 0 {
		t.Fatalf("esc requested: %v", c)
	}
	if c := r.callsWith("dryrun"); len(c) != 2 {
		t.Fatalf("dry runs %v", c)
	}
}

func TestPlaybookRequestRefusedAndDryRunError(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "cleo", 120, 40)
	r.dryErr = fmt.Errorf("api.cloudflare.test: connection refused")
	openWaf(t, m)
	press(m, "enter")
	form := formOf(t, m)
	if form.stage != stageForm {
		t.Fatalf("a failed dry run returns to the form, stage %d", form.stage)
	}
	wantScreen(t, m, "dry run failed: api.cloudflare.test: connection refused")
	r.dryErr = nil
	r.requestErr = roles.Refuse("lock waf is held by run R7 (waf-mode, requested by rosa, running since 2m)")
	press(m, "enter", "y")
	wantToast(t, m, "refused: lock waf is held by run R7")
}

func TestPlaybookPaletteDisabledWithReason(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "ollie", 120, 40)
	var found bool
	for _, a := range m.actions() {
		if strings.HasPrefix(a.title, "Run playbook: Switch the Cloudflare WAF mode") {
			found = true
			if a.err == nil {
				t.Fatal("an observer may not run waf-mode")
			}
		}
	}
	if !found {
		t.Fatal("waf-mode not in the palette")
	}
	press(m, ":")
	typeText(m, "waf mode")
	wantScreen(t, m, "✗ ")
	press(m, "enter")
	if m.overlay != overlayNone {
		t.Fatal("a disabled playbook must not open the form")
	}
	wantToast(t, m, "not allowed:")
	// The lock: a request waiting for approval holds nothing; an approved
	// run of the same lock disables it for the owner.
	m2 := newRunnerModel(t, f, r, "cleo", 120, 40)
	requestedByCleo(m2)
	if err := m2.playbookErr(Playbook{Name: "waf-mode", Service: "cloudflare"}); err != nil {
		t.Fatalf("a request awaiting approval blocks the lock: %v", err)
	}
	id := "R" + strconv.Itoa(int(m2.st.LastSeq-1))
	m2.Update(feedMsg{feed: m2.feed, ups: []incident.Update{{Now: tNow.UTC(), Events: []incident.Event{
		{Seq: m2.st.LastSeq + 1, Time: tNow.UTC(), Kind: incident.KindRun, Actor: "rosa", Service: "cloudflare", Text: "rosa approved " + id,
			Run: &incident.RunInfo{ID: id, Playbook: "waf-mode", State: incident.RunApproved}}}}}})
	err := m2.playbookErr(Playbook{Name: "waf-mode", Service: "cloudflare"})
	if err == nil || !strings.Contains(err.Error(), "lock waf is held by run") {
		t.Fatalf("lock not reported: %v", err)
	}
}

func TestApprovalBannerOnlyForApprovers(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	want := "R" + strconv.Itoa(int(f.st.LastSeq+1)) + " waf-mode (mode=block threshold=80 notify=true) requested by cleo awaits your approval — press A"
	for _, c := range []struct {
		handle string
		shown  bool
	}{{"rosa", true}, {"dev", true}, {"cleo", false}, {"ollie", false}, {"tomas", false}} {
		m := newRunnerModel(t, f, r, c.handle, 200, 40)
		if b := m.approvalBanner(200); b != "" {
			t.Fatalf("%s: banner before any request: %q", c.handle, b)
		}
		requestedByCleo(m)
		b := m.approvalBanner(200)
		if got := strings.Contains(b, want); got != c.shown {
			t.Errorf("%s: banner %q, shown %v, want %v", c.handle, b, got, c.shown)
		}
	}
}

func TestApproveAndReject(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	id := "R" + strconv.Itoa(int(f.st.LastSeq+1))
	m := newRunnerModel(t, f, r, "rosa", 120, 40)
	requestedByCleo(m)
	press(m, "A")
	if _, ok := m.chooser.dialog.(*approvalDialog); !ok || m.overlay != overlayChooser {
		t.Fatal("A opens the approval dialog")
	}
	wantScreen(t, m, "Approve run "+id+"?", "waf-mode", "mode=block threshold=80 notify=true", wafHash[:12], "requested by cleo (Cleo Martin) 1m00s ago", "expires", "9m00s left to approve")
	press(m, "n")
	// Only the read-only dry run that shows the values now.
	if c := r.callsWith(""); len(c) != 1 || !strings.HasPrefix(c[0], "dryrun waf-mode") {
		t.Fatalf("calls before y: %v", c)
	}
	press(m, "y")
	if got, want := r.callsWith("approve"), []string{"approve rosa " + id + " " + wafHash}; !reflect.DeepEqual(got, want) {
		t.Fatalf("approve calls %v, want %v", got, want)
	}
	wantToast(t, m, "✓ approved "+id+" waf-mode")

	m = newRunnerModel(t, f, r, "dev", 120, 40)
	requestedByCleo(m)
	press(m, "A", "r")
	typeText(m, "too broad")
	press(m, "enter")
	if got, want := r.callsWith("reject"), []string{"reject dev " + id + " too broad"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("reject calls %v, want %v", got, want)
	}
	wantToast(t, m, "✓ rejected "+id)

	// esc closes without a decision.
	r.calls = nil
	m = newRunnerModel(t, f, r, "rosa", 120, 40)
	requestedByCleo(m)
	press(m, "A", "esc")
	if m.overlay != overlayNone || len(r.callsWith("approve")) != 0 || len(r.callsWith("reject")) != 0 {
		t.Fatal("esc must close the dialog without a decision")
	}
}

func TestApprovalRefusalsShown(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "rosa", 120, 40)
	requestedByCleo(m)
	r.approveErr = roles.Refuse("the parameters do not match: review the run again")
	press(m, "A", "y")
	wantToast(t, m, "refused: the parameters do not match")
	// The requester cannot approve: A is the (refused) offer answer.
	m = newRunnerModel(t, f, r, "cleo", 120, 40)
	requestedByCleo(m)
	press(m, "A")
	if m.overlay != overlayNone {
		t.Fatal("the requester must not get the approval dialog")
	}
	wantToast(t, m, "not allowed:")
	if len(r.callsWith("approve cleo")) != 0 {
		t.Fatal("self-approval was sent")
	}
}

func TestPlaybookGolden(t *testing.T) {
	views := []struct {
		name, handle string
		setup        func(m *Model)
	}{
		{"form", "cleo", func(m *Model) { openWaf(t, m); press(m, "right", "tab", "ctrl+u"); typeText(m, "500") }},
		{"confirm", "cleo", func(m *Model) { openWaf(t, m); press(m, "right", "enter") }},
		{"approval", "rosa", func(m *Model) { requestedByCleo(m); press(m, "A") }},
	}
	for _, v := range views {
		for _, sz := range goldenSizes[:2] {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, sz.w, sz.h), func(t *testing.T) {
				f, r := newFakeEngine(), newFakeRunner()
				m := newRunnerModel(t, f, r, v.handle, sz.w, sz.h)
				v.setup(m)
				if os.Getenv("TUI_SHOW") != "" {
					fmt.Println(plainView(m))
				}
				golden.RequireEqual(t, asciiView(m))
			})
		}
	}
}
