package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// The Launch view: before T-0 the dashboard opens on it. A countdown to
// T-0 and the next checkpoint, each go/no-go criterion with its evidence
// and who supplied it, the checkpoints, the baseline, and the decision.
// Everything on it is the state's fold of launch events: a criterion is
// green only once its EVIDENCE event is in the feed.

// LoadTestResult is a load-test result file read for the board.
type LoadTestResult struct {
	Tool, File string
	Metrics    map[string]float64
}

// LaunchHooks do the launch view's I/O; the dashboard calls them in Cmds.
type LaunchHooks struct {
	// Preflight runs the live checks (check --live) and returns their
	// outcome, which the dashboard records as a CHECK event.
	Preflight func(ctx context.Context) (incident.CheckInfo, error)
	// ReadLoadTest reads a k6 or vegeta result file.
	ReadLoadTest func(path string) (LoadTestResult, error)
}

// launchMode reports whether the file has a launch plan.
func (m *Model) launchMode() bool { return m.cfg.Launch != nil }

// openOnLaunch: before T-0, with a plan and no decision for good, the
// dashboard starts on the Launch view.
func (m *Model) openOnLaunch() bool {
	if !m.launchMode() || m.st == nil {
		return false
	}
	t0, ok := m.st.T0(m.cfg)
	return ok && m.now.Before(t0) && !m.st.Launch.Decided()
}

func (m *Model) launchCriteria() []config.Criterion {
	if m.cfg.Launch == nil {
		return nil
	}
	return m.cfg.Launch.Criteria
}

func (m *Model) criterionIDs() []string {
	var ids []string
	for _, c := range m.launchCriteria() {
		ids = append(ids, c.ID)
	}
	return ids
}

func (m *Model) selectedCriterion() *config.Criterion {
	ids := m.criterionIDs()
	i := m.launchCur.at(ids)
	if i < 0 {
		if len(ids) == 0 {
			return nil
		}
		i = 0
	}
	return &m.cfg.Launch.Criteria[i]
}

// nextCheckpoint is the first checkpoint still ahead.
func (m *Model) nextCheckpoint(t0 time.Time) (*config.Checkpoint, time.Time) {
	if m.cfg.Launch == nil {
		return nil, time.Time{}
	}
	for i := range m.cfg.Launch.Checkpoints {
		cp := &m.cfg.Launch.Checkpoints[i]
		if at := t0.Add(cp.At.D()); at.After(m.now) {
			return cp, at
		}
	}
	return nil, time.Time{}
}

func (m *Model) renderLaunch(w, h int) []string {
	s := m.sty
	b := newBlock(w)
	l := m.st.Launch
	if l == nil {
		l = &incident.LaunchState{} // no launch event yet
	}
	t0, ok := m.st.T0(m.cfg)
	if !ok {
		b.add("  " + s.Muted.S("the launch plan counts from T-0: set incident.launch in the war-room file"))
		return b.render(h)
	}
	// The countdown and the next checkpoint.
	count := "T-" + incident.ClockDur(t0.Sub(m.now))
	if !m.now.Before(t0) {
		count = "T+" + incident.ClockDur(m.now.Sub(t0))
	}
	left := " " + s.Title.S(count) + s.Muted.S("  T-0 "+t0.In(m.loc).Format("Mon 15:04:05 MST"))
	right := ""
	if cp, at := m.nextCheckpoint(t0); cp != nil {
		right = s.Muted.S("next ") + s.Bold.S(cp.At.String()+" "+textsafe.Line(cp.Name)) + s.Muted.S(" in "+incident.ClockDur(at.Sub(m.now))+" ")
	}
	if width(left)+1+width(right) <= w {
		b.add(spread(left, right, w))
	} else {
		b.add(left)
		if right != "" {
			b.add(" " + right)
		}
	}
	// The decision, or what it would take.
	red, green := m.st.RedCriteria(m.cfg.Launch)
	total := len(red) + len(green)
	var dec string
	switch d := l.LastDecision(); {
	case d != nil && d.Decision == incident.DecisionGo:
		dec = s.Badge[sevOK].S(" GO ") + " " + s.Text.S("by "+d.By+" at "+d.At.In(m.loc).Format("15:04:05"))
	case d != nil && d.Decision == incident.DecisionAbort:
		dec = s.Badge[sevCrit].S(" ABORTED ") + " " + s.Text.S("by "+d.By+" at "+d.At.In(m.loc).Format("15:04:05"))
	case d != nil:
		dec = s.Badge[sevWarn].S(" HOLD ") + " " + s.Text.S("by "+d.By+": new T-0 "+d.T0.In(m.loc).Format("15:04:05"))
	default:
		dec = s.Muted.S("no decision yet")
	}
	if d := l.LastDecision(); d != nil && d.Override != "" {
		dec += s.Muted.S(" — override: ") + s.Text.S(textsafe.Line(d.Override))
	}
	board := fmt.Sprintf("%d of %d green", len(green), total)
	boardStyle := s.Level[sevOK]
	if len(red) > 0 {
		boardStyle = s.Level[sevCrit]
	}
	b.add(" " + s.Bold.S("Go/no-go: ") + boardStyle.S(board) + s.Muted.S(" · ") + dec)
	b.add("")

	// The criteria table.
	crits := m.launchCriteria()
	idW := 4
	for _, c := range crits {
		idW = max(idW, min(width(c.ID), 18))
	}
	byW, atW := 8, 8
	stW := 7
	evW := max(w-2-idW-1-stW-1-byW-1-atW-1, 10)
	titleW := 0
	if w >= 110 {
		titleW = min(32, w/4)
		evW = max(evW-titleW-1, 10)
	}
	head := "  " + padRight("CRITERION", idW) + " "
	if titleW > 0 {
		head += padRight("WHAT", titleW) + " "
	}
	head += padRight("STATE", stW) + " " + padRight("EVIDENCE", evW) + " " + padRight("BY", byW) + " " + "AT"
	b.add(s.Muted.S(head))
	ids := m.criterionIDs()
	cur := m.launchCur.at(ids)
	if cur < 0 && len(ids) > 0 {
		cur = 0
	}
	for i, c := range crits {
		cs := l.Criterion(c.ID)
		state, sv := "RED", sevCrit
		switch {
		case cs.Green:
			state, sv = "GREEN", sevOK
		case cs.Seq == 0:
			state, sv = "WAIT", sevNoData
		}
		ev := cs.Evidence.Summary
		if cs.Seq == 0 {
			ev = m.awaiting(c)
		}
		by, at := "", ""
		if cs.Seq > 0 {
			by, at = cs.By, cs.At.In(m.loc).Format("15:04:05")
		}
		row := "  " + padRight(trunc(c.ID, idW), idW) + " "
		if titleW > 0 {
			row += padRight(trunc(textsafe.Line(c.Title), titleW), titleW) + " "
		}
		row += padRight(s.Level[sv].S(state), stW) + " " + padRight(trunc(textsafe.Line(ev), evW), evW) + " " + padRight(trunc(by, byW), byW) + " " + at
		if i == cur {
			row = s.selectLine(row, w)
		}
		b.add(row)
	}
	b.add("")

	// The selected criterion in full.
	if c := m.selectedCriterion(); c != nil && !b.full(h) {
		cs := l.Criterion(c.ID)
		b.add(" " + s.Bold.S(textsafe.Line(c.Title)) + s.Muted.S(" ("+kindText(c)+")"))
		lines := []string{cs.Evidence.Summary}
		if cs.Seq == 0 {
			lines = []string{m.awaiting(*c)}
		}
		lines = append(lines, cs.Evidence.Detail...)
		for _, ln := range lines {
			for _, wl := range wrapLines(textsafe.Line(ln), w-4, 2) {
				b.add("   " + wl)
			}
		}
		b.add("")
	}

	// Checkpoints.
	if cps := m.cfg.Launch.Checkpoints; len(cps) > 0 && !b.full(h) {
		b.add(" " + s.Bold.S("Checkpoints"))
		next, _ := m.nextCheckpoint(t0)
		// When they do not all fit, the earliest passed ones give way:
		// what comes next matters most.
		first := 0
		if room := h - len(b.lines) - 1; room > 0 && len(cps) > room {
			first = len(cps) - room
			if next != nil {
				for i := range cps {
					if &cps[i] == next {
						first = min(first, max(i-1, 0))
					}
				}
			}
		}
		for i := first; i < len(cps); i++ {
			cp := &cps[i]
			at := t0.Add(cp.At.D())
			var due []string
			red := false
			for _, id := range cp.Criteria {
				if l.Criterion(id).Green {
					due = append(due, id+" ✓")
				} else {
					due, red = append(due, id+" ✗"), true
				}
			}
			// A past checkpoint is met (✓) only if its criteria are green
			// now; one passed with a criterion red is missed (✗), in warn.
			mark, when := "✓", at.In(m.loc).Format("Jan 2 15:04")
			style := s.Muted
			switch {
			case cp == next:
				mark, when, style = "▸", "in "+incident.ClockDur(at.Sub(m.now)), s.Text
			case at.After(m.now):
				mark = "·"
			case red:
				mark, style = "✗", s.Level[sevWarn]
			}
			line := fmt.Sprintf("  %s %-6s %s", mark, cp.At.String(), textsafe.Line(cp.Name))
			if len(due) > 0 {
				line += " (" + strings.Join(due, ", ") + ")"
			}
			b.add(style.S(spread(line, when+" ", w)))
		}
	}
	// The baseline.
	if !b.full(h) {
		from, to := m.cfg.Launch.Window()
		bl := fmt.Sprintf(" Baseline: each pane over %s to %s, drawn behind the live series after T-0", config.Offset(from), config.Offset(to))
		if n := len(l.Baseline); n > 0 {
			bl = fmt.Sprintf(" Baseline: %d panes captured over %s–%s", n, l.BaselineFrom.In(m.loc).Format("15:04"), l.BaselineTo.In(m.loc).Format("15:04 MST"))
		}
		b.add(s.Muted.S(bl))
	}
	// Expected curves: load-test results drawn on panes after T-0.
	if m.st.Room != nil && m.st.Room.Plan != nil {
		for _, pc := range m.st.Room.Plan.Criteria {
			if len(pc.Expect) == 0 || b.full(h) {
				continue
			}
			var panes []string
			for _, pe := range pc.Expect {
				panes = append(panes, pe.Service+"/"+pe.Pane+" "+strings.Join(pe.Metrics, "–"))
			}
			line := " Expected: " + strings.Join(panes, ", ") + " from " + pc.ID + "'s result, drawn after T-0"
			if x, ok := m.st.Expected(pc.Expect[0].Service, pc.Expect[0].Pane); ok {
				line = " Expected: " + strings.Join(panes, ", ") + " from " + x.Source() + ", drawn after T-0"
			} else {
				line += " once one is imported"
			}
			b.add(s.Muted.S(fit(textsafe.Line(line), w)))
		}
	}
	return b.render(h)
}

// baselineBand is the pane's baseline (p5, p95) to draw behind its
// detail chart: only after T-0, when "normal" is what the live series is
// compared with.
func (m *Model) baselineBand(pv *paneView) *[2]float64 {
	if m.st == nil || m.st.Launch == nil || pv.pane == nil {
		return nil
	}
	b, ok := m.st.Launch.Baseline[incident.PaneKey(pv.pane.Service, pv.pane.ID)]
	if !ok || b.N == 0 {
		return nil
	}
	if t0, ok := m.st.T0(m.cfg); !ok || m.now.Before(t0) {
		return nil
	}
	return &[2]float64{b.P5, b.P95}
}

// expectedCurve is the pane's expected curve (a load-test result the
// plan draws on it) from T-0 on, like the baseline; it may lack values
// (the result has no such metric): the legend says so.
func (m *Model) expectedCurve(pv *paneView) *incident.Expected {
	if pv.pane == nil || m.st == nil {
		return nil
	}
	x, ok := m.st.Expected(pv.pane.Service, pv.pane.ID)
	if !ok {
		return nil
	}
	if t0, ok := m.st.T0(m.cfg); !ok || m.now.Before(t0) {
		return nil
	}
	return &x
}

// chartLegend tells apart what a detail chart draws: the live series,
// the baseline band and the expected curve. It is empty when the chart
// draws the live series alone.
func (m *Model) chartLegend(pv *paneView, w int) string {
	s := m.sty
	bl, x := m.baselineBand(pv), m.expectedCurve(pv)
	if bl == nil && x == nil {
		return ""
	}
	// The longest form that fits: the baseline's window goes first, then
	// its percentiles, then the result's tool and file.
	for form := 0; form < 4; form++ {
		parts := []string{m.sparkPaint(pv).S("⠤ live")}
		if bl != nil {
			b := "░ baseline"
			if form < 2 {
				b += " p5–p95"
			}
			if form < 1 {
				b += " " + m.st.Launch.BaselineFrom.In(m.loc).Format("15:04") + "–" + m.st.Launch.BaselineTo.In(m.loc).Format("15:04")
			}
			parts = append(parts, s.Subtle.S(b))
		}
		if x != nil {
			e := "╌ expected " + textsafe.Line(x.Label())
			if form == 3 {
				e = fmt.Sprintf("╌ expected #%d %s", x.Seq, strings.Join(x.Metrics, "–"))
			}
			if !x.Drawable() {
				e += ": the result has no " + strings.Join(x.Missing, ", ")
			}
			parts = append(parts, s.Accent.S(e))
		}
		for _, sep := range []string{"  ", " "} {
			if l := strings.Join(parts, sep); width(l) <= w || form == 3 && sep == " " {
				return fit(l, w)
			}
		}
	}
	return ""
}

// awaiting says what evidence a criterion waits for.
func (m *Model) awaiting(c config.Criterion) string {
	switch c.Kind() {
	case config.KindPreflight:
		return "waiting for a preflight (p)"
	case config.KindPane:
		return fmt.Sprintf("waiting for %s to hold for %s", c.Pane, config.Duration(c.For).String())
	case config.KindLoadTest:
		return "waiting for a k6 or vegeta result (i): " + strings.Join(c.LoadTest, ", ")
	case config.KindSignOff:
		return "waiting for " + c.SignOff + "'s sign-off (s)"
	case config.KindStaffed:
		if miss := m.st.Staffing(m.cfg); len(miss) > 0 {
			return miss[0] + moreText(len(miss)-1)
		}
		return "waiting for the engine to see everyone connected"
	}
	return ""
}

func moreText(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (+%d more)", n)
}

func kindText(c *config.Criterion) string {
	switch c.Kind() {
	case config.KindPreflight:
		return "preflight"
	case config.KindPane:
		return "pane " + c.Pane + " for " + c.For.String()
	case config.KindLoadTest:
		return "load test: " + strings.Join(c.LoadTest, ", ")
	case config.KindSignOff:
		return "sign-off by " + c.SignOff
	case config.KindStaffed:
		return "every role and owner connected"
	}
	return ""
}

func padRight(s string, w int) string {
	if d := w - width(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

func (m *Model) launchKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if m.moveCursor(msg, &m.launchCur, m.criterionIDs()) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Decide):
		return m.startDecision()
	case key.Matches(msg, k.SignOff):
		return m.signOff()
	case key.Matches(msg, k.Preflight):
		return m.runPreflight()
	case key.Matches(msg, k.ImportLoad):
		return m.startImport()
	}
	return nil
}

// startDecision asks go, hold or abort; a hold asks for the new T-0, and
// a go or abort with red criteria asks for the override's reason.
func (m *Model) startDecision() tea.Cmd {
	if err := m.decideErr(); err != nil {
		return m.refuse(err)
	}
	red, _ := m.st.RedCriteria(m.cfg.Launch)
	warn := ""
	if len(red) > 0 {
		warn = fmt.Sprintf(" — needs an override: %d red", len(red))
	}
	opts := []choice{
		{label: "GO" + warn, value: incident.DecisionGo},
		{label: "HOLD with a new T-0", value: incident.DecisionHold},
		{label: "ABORT the launch" + warn, value: incident.DecisionAbort},
	}
	m.openChooser("Launch decision…", opts, func(m *Model, c choice) tea.Cmd {
		d := c.value
		if d == incident.DecisionHold {
			return m.openInput("new T-0 (+30m, 10:30 or RFC 3339)", func(m *Model, text string) tea.Cmd {
				t, err := incident.ParseT0(text, m.now, m.loc)
				if err != nil {
					return m.refuse(err)
				}
				return m.send("hold: new T-0 "+t.In(m.loc).Format("15:04:05"), incident.Decide{By: m.me, Decision: d, T0: t})
			})
		}
		red, _ := m.st.RedCriteria(m.cfg.Launch)
		if len(red) == 0 {
			return m.send("decide "+d, incident.Decide{By: m.me, Decision: d})
		}
		prompt := fmt.Sprintf("override %d red (%s): reason", len(red), strings.Join(red, ", "))
		return m.openInput(prompt, func(m *Model, text string) tea.Cmd {
			if strings.TrimSpace(text) == "" {
				return m.refuse(fmt.Errorf("not sent: deciding %s with %d red criteria needs an override reason", d, len(red)))
			}
			return m.send("decide "+d+" with an override", incident.Decide{By: m.me, Decision: d, Override: text})
		})
	})
	return nil
}

func (m *Model) decideErr() error {
	if !m.launchMode() {
		return roles.Refuse("the war-room file has no launch plan")
	}
	if err := m.check(roles.ActDecide, ""); err != nil {
		return err
	}
	if d := m.st.Launch.LastDecision(); d != nil && m.st.Launch.Decided() {
		return fmt.Errorf("the launch was already decided: %s by %s", d.Decision, d.By)
	}
	return nil
}

// signOff gives (or withdraws) this person's sign-off on the selected
// criterion, or on the one they are named for.
func (m *Model) signOff() tea.Cmd {
	if !m.launchMode() {
		return m.refuse(roles.Refuse("the war-room file has no launch plan"))
	}
	c := m.selectedCriterion()
	if c == nil || c.Kind() != config.KindSignOff || c.SignOff != m.me {
		c = nil
		for i := range m.cfg.Launch.Criteria {
			if x := &m.cfg.Launch.Criteria[i]; x.Kind() == config.KindSignOff && x.SignOff == m.me {
				c = x
				break
			}
		}
	}
	if c == nil {
		return m.refuse(roles.Refuse("no criterion is signed off by %s", m.me))
	}
	id := c.ID
	if m.st.Launch.Criterion(id).Green {
		m.confirm("Withdraw your sign-off of "+id+"? It turns red.", func(m *Model) tea.Cmd {
			return m.send("withdraw sign-off of "+id, incident.SignOff{By: m.me, Criterion: id, Withdraw: true})
		})
		return nil
	}
	return m.openInput("sign off "+id+" (optional note)", func(m *Model, text string) tea.Cmd {
		return m.send("sign off "+id, incident.SignOff{By: m.me, Criterion: id, Note: text})
	})
}

// runPreflight runs the live checks in a Cmd and records the result.
func (m *Model) runPreflight() tea.Cmd {
	if err := m.check(roles.ActEvidence, ""); err != nil {
		return m.refuse(err)
	}
	hook := m.o.Launch.Preflight
	if hook == nil {
		return m.refuse(errors.New("preflight is not available in this session"))
	}
	ctx, eng, me := m.ctx, m.eng, m.me
	m.pending++
	m.setToast(toastInfo, "running the preflight: every source, pane, Slack and playbook once…")
	return func() tea.Msg {
		info, err := hook(ctx)
		if err != nil {
			return replyMsg{label: "preflight", err: err}
		}
		rep := eng.Do(ctx, incident.RecordCheck{By: me, Result: info})
		label := fmt.Sprintf("preflight: %d checks passed", info.Checks)
		if !info.Pass && len(info.Problems) > 0 {
			label = fmt.Sprintf("preflight: %d problem(s): %s", len(info.Problems), info.Problems[0])
		}
		return replyMsg{label: label, rep: rep}
	}
}

// startImport asks for a result file and submits it for the selected
// load-test criterion (or the only one).
func (m *Model) startImport() tea.Cmd {
	if err := m.check(roles.ActEvidence, ""); err != nil {
		return m.refuse(err)
	}
	hook := m.o.Launch.ReadLoadTest
	if hook == nil {
		return m.refuse(errors.New("this session does not read files: send the result from your terminal with ssh HOST import CRITERION < FILE, or warroom launch import FILE on the room's machine"))
	}
	c := m.selectedCriterion()
	if c == nil || c.Kind() != config.KindLoadTest {
		c = nil
		for i := range m.launchCriteria() {
			if x := &m.cfg.Launch.Criteria[i]; x.Kind() == config.KindLoadTest {
				c = x
				break
			}
		}
	}
	if c == nil {
		return m.refuse(roles.Refuse("the plan has no load-test criterion"))
	}
	id := c.ID
	return m.openInput("k6 or vegeta result file for "+id, func(m *Model, path string) tea.Cmd {
		path = strings.TrimSpace(path)
		if path == "" {
			return m.refuse(errors.New("no file given"))
		}
		ctx, eng, me := m.ctx, m.eng, m.me
		m.pending++
		return func() tea.Msg {
			r, err := hook(path)
			if err != nil {
				return replyMsg{label: "import " + path, err: err}
			}
			rep := eng.Do(ctx, incident.SubmitEvidence{By: me, Criterion: id, Tool: r.Tool, File: r.File, Metrics: r.Metrics})
			return replyMsg{label: "import " + r.Tool + " " + r.File + " for " + id, rep: rep}
		}
	})
}
