package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// TestGoldenRecordedIncident: every format of the recorded incident,
// byte for byte (go test ./export -run Golden -update rewrites them).
func TestGoldenRecordedIncident(t *testing.T) {
	files := exportAll(t, fixtureJournal(t), t.TempDir(), Options{})
	// Each service's main pane, and tokens' DB connections pane, which
	// alerted too.
	want := []string{"postmortem-history.svg", "postmortem-rpc.svg", "postmortem-tokens-db.svg", "postmortem-tokens.svg",
		"postmortem.csv", "postmortem.html", "postmortem.json", "postmortem.md"}
	var got []string
	for name := range files {
		got = append(got, name)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files written: %v, want %v", got, want)
	}
	for _, name := range want {
		golden(t, "full/"+name, files[name])
	}
}

// TestGoldenFiltered: filters on the recorded incident.
func TestGoldenFiltered(t *testing.T) {
	r := loadFixture(t, Options{Filter: Filter{Important: true}})
	golden(t, "important.csv", render(t, r, CSV))
	golden(t, "important.md", render(t, r, Markdown))
	r = loadFixture(t, Options{Filter: Filter{Service: "rpc", From: ptime("2026-02-01T00:00:00Z"), To: ptime("2026-02-01T00:10:00Z")}})
	golden(t, "rpc-window.json", render(t, r, JSON))
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md, ""); err != nil {
		t.Fatal(err)
	}
	golden(t, "rpc-window-stdout.md", md.Bytes())
}

// TestSameJournalSameBytes: two exports of one journal, and an export of
// a copy of it made elsewhere, are identical.
func TestSameJournalSameBytes(t *testing.T) {
	src := fixtureJournal(t)
	a := exportAll(t, src, t.TempDir(), Options{})
	copyDir := t.TempDir()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(copyDir, "copied.db")
	if err := os.WriteFile(copied, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := exportAll(t, src, t.TempDir(), Options{})
	c := exportAll(t, copied, t.TempDir(), Options{})
	for name, x := range a {
		if !bytes.Equal(x, b[name]) {
			t.Errorf("%s differs between two exports", name)
		}
		if !bytes.Equal(x, c[name]) {
			t.Errorf("%s differs for a copy of the journal", name)
		}
	}
	if bytes.Contains(a["postmortem.md"], []byte(time.Now().UTC().Format("2006-01-02"))) {
		t.Error("the export mentions today's date")
	}
}

// TestDurations checks the figures of the recorded incident: re-acks
// after an upgrade to crit (one before the backup delay, one after an
// escalation that counted from the upgrade), re-fired alerts, an alert
// never acked, a command handoff and runs, several crossing midnight UTC.
func TestDurations(t *testing.T) {
	r := loadFixture(t, Options{})
	type want struct {
		id, service, pane string
		tta               time.Duration // 0: never acked
		reacks            []time.Duration
		ttr               time.Duration
		escalatedTo       []string
	}
	wants := []want{
		// Re-acked 30s after its upgrade cleared the ack: within the backup
		// delay, which counts from the upgrade, so nobody is paged.
		{"A4", "tokens", "p95", time.Minute, []time.Duration{30 * time.Second}, 8 * time.Minute, nil},
		{"A6", "tokens", "db", time.Minute, nil, 5*time.Minute + 30*time.Second, nil},
		// history has no backup: the commander is paged at the backup delay.
		{"A23", "history", "rps", 6 * time.Minute, nil, 10 * time.Minute, []string{"maya"}}, // 23:52 → 00:02
		{"A35", "rpc", "lag", 2 * time.Minute, nil, 8*time.Minute + 30*time.Second, []string{"dave"}},
		{"A64", "history", "rps", time.Minute, nil, 5 * time.Minute, nil}, // the re-fire: a second alert
		{"A69", "tokens", "ClaimsStaleBalances", 0, nil, 2 * time.Minute, []string{"bob"}},
		// Upgraded 2m after the firing, clearing carol's ack: dave is paged
		// 2m after the upgrade and re-acks 2m30s after it.
		{"A70", "rpc", "lag", 30 * time.Second, []time.Duration{2*time.Minute + 30*time.Second}, 5 * time.Minute, []string{"dave"}},
	}
	if len(r.Alerts) != len(wants) {
		t.Fatalf("%d alerts, want %d", len(r.Alerts), len(wants))
	}
	for i, w := range wants {
		a := r.Alerts[i]
		if a.ID != w.id || a.Service != w.service || a.Pane != w.pane {
			t.Fatalf("alert %d is %s %s/%s, want %s %s/%s", i, a.ID, a.Service, a.Pane, w.id, w.service, w.pane)
		}
		tta, acked := a.TimeToAck()
		if acked != (w.tta != 0) || tta != w.tta {
			t.Errorf("%s: time to ack %v (acked %v), want %v", a.ID, tta, acked, w.tta)
		}
		var re []time.Duration
		for _, k := range a.Reacks() {
			re = append(re, k.Wait())
		}
		if len(re) != len(w.reacks) || (len(re) > 0 && re[0] != w.reacks[0]) {
			t.Errorf("%s: re-acks %v, want %v", a.ID, re, w.reacks)
		}
		if ttr, ok := a.TimeToResolve(); !ok || ttr != w.ttr {
			t.Errorf("%s: time to resolve %v (%v), want %v", a.ID, ttr, ok, w.ttr)
		}
		var esc []string
		for _, e := range a.Escalations {
			esc = append(esc, e.To)
		}
		if strings.Join(esc, ",") != strings.Join(w.escalatedTo, ",") {
			t.Errorf("%s: escalated to %v, want %v", a.ID, esc, w.escalatedTo)
		}
	}
	if a := r.Alerts[0]; a.Worst != incident.LevelCrit || !a.Levels[1].Unacked {
		t.Errorf("A4 should be upgraded to crit, clearing alice's ack: %+v", a.Levels)
	}
	if a := r.Alerts[3]; a.Levels[1].Unacked {
		t.Error("A35 went from NO DATA to crit before any ack: nothing to clear")
	}
	// Escalation counts from the upgrade that cleared an ack, not from the
	// firing: A70 was already older than the backup delay when it turned
	// crit (the old rule paged dave at once), and dave was paged the full
	// delay after the upgrade.
	if r.Escalation != (EscalationPolicy{Backup: 2 * time.Minute, Commander: 5 * time.Minute}) {
		t.Fatalf("escalation policy from the DECLARE: %+v", r.Escalation)
	}
	if a := r.Alerts[6]; len(a.Levels) != 2 || !a.Levels[1].Unacked || a.Levels[1].Level != incident.LevelCrit {
		t.Errorf("A70 should be upgraded to crit, clearing carol's ack: %+v", a.Levels)
	} else {
		up := a.Levels[1]
		if up.At.Sub(a.FiredAt) < r.Escalation.Backup {
			t.Errorf("A70 upgraded %v after the firing: the fixture must upgrade after the backup delay", up.At.Sub(a.FiredAt))
		}
		if len(a.Escalations) != 1 || a.Escalations[0].Step != 1 || a.Escalations[0].At.Sub(up.At) != r.Escalation.Backup {
			t.Errorf("A70 should escalate to the backup %v after the upgrade at %v: %+v", r.Escalation.Backup, up.At, a.Escalations)
		}
		if got := escalationSince(a, a.Escalations[0]); !got.Equal(up.At) {
			t.Errorf("A70 escalation counted from %v, want the upgrade at %v", got, up.At)
		}
		if k := a.Reacks(); len(k) != 1 || k[0].By != "dave" || !k[0].Since.Equal(up.At) {
			t.Errorf("A70 re-acks %+v, want dave's after the upgrade", k)
		}
	}
	if a := r.Alerts[5]; !escalationSince(a, a.Escalations[0]).Equal(a.FiredAt) {
		t.Error("A69 was never acked: its escalation counts from the firing")
	}
	stats := map[string]incident.AlertStats{}
	for _, s := range r.Stats {
		stats[s.Service] = s
	}
	for svc, w := range map[string][2]time.Duration{
		"tokens":  {time.Minute, (8*time.Minute + 5*time.Minute + 30*time.Second + 2*time.Minute) / 3},
		"history": {(6*time.Minute + time.Minute) / 2, (10*time.Minute + 5*time.Minute) / 2},
		"rpc":     {(2*time.Minute + 30*time.Second) / 2, (8*time.Minute + 30*time.Second + 5*time.Minute) / 2},
		"*": {(time.Minute + time.Minute + 6*time.Minute + 2*time.Minute + time.Minute + 30*time.Second) / 6,
			(8*time.Minute + 5*time.Minute + 30*time.Second + 10*time.Minute + 8*time.Minute + 30*time.Second + 5*time.Minute + 2*time.Minute + 5*time.Minute) / 7},
	} {
		if s := stats[svc]; s.MeanTTA != w[0] || s.MeanTTR != w[1] {
			t.Errorf("%s: means %v/%v, want %v/%v", svc, s.MeanTTA, s.MeanTTR, w[0], w[1])
		}
	}
	if s := stats["tokens"]; s.Alerts != 3 || s.Acked != 2 || s.Reacks != 1 || s.Escalated != 1 {
		t.Errorf("tokens stats %+v", s)
	}
	if s := stats["rpc"]; s.Alerts != 2 || s.Acked != 2 || s.Reacks != 1 || s.Escalated != 2 {
		t.Errorf("rpc stats %+v", s)
	}
	if s := stats["*"]; s.Alerts != 7 || s.Acked != 6 || s.Reacks != 2 || s.Escalated != 4 {
		t.Errorf("all stats %+v", s)
	}
	// Command: maya until olga accepted after midnight.
	if len(r.Command) != 2 || r.Command[0].Commander != "maya" || r.Command[1].Commander != "olga" ||
		r.Command[0].To.Sub(r.Command[0].From) != 31*time.Minute || r.Command[1].To.Sub(r.Command[1].From) != 19*time.Minute ||
		!r.Command[1].Current {
		t.Errorf("command spells %+v", r.Command)
	}
	if r.Final.Commander != "olga" || r.Final.Deputy != "maya" || r.Setup.Comms != "" || r.Final.Comms != "olga" {
		t.Errorf("roles at the end %+v", r.Final)
	}
	// Runs: outcome and duration, approvals.
	runs := map[string]*Run{}
	for _, run := range r.Runs {
		runs[run.ID] = run
	}
	if x := runs["R12"]; x == nil || x.Outcome != "succeeded" || !x.Done || x.Duration() != 3*time.Minute ||
		len(x.Approvals) != 1 || x.Approvals[0].By != "maya" || x.Params["max_idle"] != "60s" {
		t.Errorf("R12 %+v", x)
	}
	if x := runs["R41"]; x == nil || x.Outcome != "rolled_back" || x.Error == "" || x.Duration() != 3*time.Minute || x.Approvals[0].By != "olga" {
		t.Errorf("R41 %+v", x)
	}
	// The Markdown says the same.
	md := string(render(t, r, Markdown))
	for _, s := range []string{
		"| A4 | tokens | p95 | 2026-01-31 23:42:30 | 2026-01-31 18:42:30 | warn → crit | alice; re-ack alice | 1m00s; re-ack 30s after crit at 2026-01-31 23:45:30 | rule | 8m00s | — |",
		"| A69 | tokens | ClaimsStaleBalances | 2026-02-01 00:14:00 | 2026-01-31 19:14:00 | warn | — | not acked | alice | 2m00s | bob after 2m00s |",
		"| A70 | rpc | lag | 2026-02-01 00:14:30 | 2026-01-31 19:14:30 | warn → crit | carol; re-ack dave | 30s; re-ack 2m30s after crit at 2026-02-01 00:16:30 | rule | 5m00s | dave 2m00s after crit at 2026-02-01 00:16:30 |",
		"| history | 2 | 2 | 3m30s | 0 | 2 | 7m30s | 1 |",
		"| rpc | 2 | 2 | 1m15s | 1 | 2 | 6m45s | 2 |",
		"**Escalation policy.** An alert nobody acknowledges pages the service's backup (the commander, for a service without one) after 2m00s, then the commander after 5m00s, counted from its firing or from the upgrade to crit that cleared an earlier ack",
		// Display names from the DECLARE's roster; handles for people without one.
		"| Maya Okafor (maya) | 2026-01-31 23:30:00 | 2026-02-01 00:01:00 | 31m00s |",
		"| commander | Maya Okafor (maya) | Olga Petrova (olga) |",
		"| scribe | sam | sam |",
		"| owner of history | bob | bob |",
		"| R41 | rpc-traffic-split | rpc | carol | 2026-02-01 00:05:30 | olga | rolled_back | 3m00s |",
		"| #30 | 2026-02-01 00:01:00 | 2026-01-31 19:01:00 | ACCEPT | olga | olga accepted command from maya | 2m00s |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown lacks %q", s)
		}
	}
}

// TestAlertLivesReackAndRefire checks the fold on hand-made events and
// that it agrees with incident.State about acks.
func TestAlertLivesReackAndRefire(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	alert := func(seq int64, d time.Duration, id string, lvl incident.Level) incident.Event {
		return incident.Event{Seq: seq, Time: at(d), Kind: incident.KindAlert, Actor: "rule", Service: "api", Text: string(lvl),
			Alert: &incident.AlertInfo{ID: id, Pane: "p95", Level: lvl, Origin: "rule"}}
	}
	other := func(seq int64, d time.Duration, kind incident.Kind, by, id string) incident.Event {
		return incident.Event{Seq: seq, Time: at(d), Kind: kind, Actor: by, Service: "api", Alert: &incident.AlertInfo{ID: id, Pane: "p95"}}
	}
	events := []incident.Event{
		alert(1, 0, "A1", incident.LevelWarn),
		other(2, time.Minute, incident.KindAck, "alice", "A1"),
		alert(3, 3*time.Minute, "A1", incident.LevelCrit), // clears the ack
		other(4, 4*time.Minute, incident.KindEscalate, "escalation", "A1"),
		other(5, 4*time.Minute+30*time.Second, incident.KindAck, "bob", "A1"),
		other(6, 10*time.Minute, incident.KindResolve, "rule", "A1"),
		alert(7, 11*time.Minute, "A7", incident.LevelWarn), // fires again: a new alert
		alert(8, 12*time.Minute, "A7", incident.LevelCrit), // worse before any ack: nothing to clear
		other(9, 13*time.Minute, incident.KindAck, "alice", "A7"),
		other(10, 20*time.Minute, incident.KindResolve, "rule", "A7"),
	}
	lives := incident.NewAlertLives()
	st := incident.NewState()
	for _, e := range events {
		lives.Apply(e)
		st.Apply(e)
		if e.Seq == 3 && st.Alerts["A1"].Acked() {
			t.Fatal("state: an upgrade to crit must clear the ack")
		}
	}
	l := lives.List()
	if len(l) != 2 {
		t.Fatalf("%d alerts, want 2 (a re-fire is a new alert)", len(l))
	}
	a1, a7 := l[0], l[1]
	if d, _ := a1.TimeToAck(); d != time.Minute {
		t.Errorf("A1 time to ack %v, want 1m (first ack)", d)
	}
	if re := a1.Reacks(); len(re) != 1 || re[0].Wait() != 90*time.Second || re[0].By != "bob" || !re[0].Since.Equal(at(3*time.Minute)) {
		t.Errorf("A1 re-acks %+v, want bob 1m30s after the upgrade", re)
	}
	if d, _ := a1.TimeToResolve(); d != 10*time.Minute {
		t.Errorf("A1 time to resolve %v", d)
	}
	if d, _ := a7.TimeToAck(); d != 2*time.Minute || len(a7.Reacks()) != 0 || a7.Levels[1].Unacked {
		t.Errorf("A7: time to ack %v, re-acks %v", d, a7.Reacks())
	}
	// The state's last ack agrees with the fold's last ack.
	if got := st.Alerts["A1"].AckedAt; !got.Equal(a1.Acks[len(a1.Acks)-1].At) {
		t.Errorf("state acked A1 at %v, fold at %v", got, a1.Acks[len(a1.Acks)-1].At)
	}
	stats := incident.StatsByService(l)
	if len(stats) != 2 || stats[0].Service != "api" || stats[0].MeanTTA != 90*time.Second || stats[0].MeanTTR != (10*time.Minute+9*time.Minute)/2 || stats[0].Reacks != 1 {
		t.Errorf("stats %+v", stats)
	}
}

var datedRow = regexp.MustCompile(`^\| [★ ]* \| #\d+ \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| `)

// TestDatesWhenTheIncidentSpansDays: every timeline row has its date when
// the incident crosses midnight in UTC or in the local zone, and only then.
func TestDatesWhenTheIncidentSpansDays(t *testing.T) {
	md := string(render(t, loadFixture(t, Options{}), Markdown))
	rows := timelineRows(md)
	if len(rows) != 87 {
		t.Fatalf("%d timeline rows, want 87", len(rows))
	}
	for _, row := range rows {
		if !datedRow.MatchString(row) {
			t.Fatalf("row without a date: %s", row)
		}
	}
	sameDay := func(zone string) string {
		t.Helper()
		s := newSynth(t, time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), &incident.RoomInfo{Timezone: zone})
		s.add(incident.Event{Time: time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC), Kind: incident.KindNote, Actor: "maya", Text: "done"})
		return string(render(t, s.load(Options{}), Markdown))
	}
	utcOnly := sameDay("")
	if !strings.Contains(utcOnly, "| #2 | 15:00:00 | - | NOTE | maya | done |") || strings.Contains(utcOnly, "Time (UTC) | Time (") {
		t.Errorf("same day in UTC, no zone: want times without dates and no local column:\n%s", timelineRows(utcOnly))
	}
	if !strings.Contains(utcOnly, "the journal does not say which time zone") {
		t.Error("UTC-only export should say why there are no local times")
	}
	paris := sameDay("Europe/Paris")
	if !strings.Contains(paris, "| #2 | 15:00:00 | 16:00:00 | - | NOTE | maya | done |") || !strings.Contains(paris, "Time (Europe/Paris)") {
		t.Errorf("Paris, same day: %s", timelineRows(paris))
	}
	if !strings.Contains(paris, "2026-03-01 15:00:00 CET (UTC+01:00)") {
		t.Error("header lacks the local declaration time")
	}
	// 14:00–15:00 UTC is 23:00–00:00 in Tokyo: dates everywhere.
	tokyo := sameDay("Asia/Tokyo")
	if !strings.Contains(tokyo, "| #2 | 2026-03-01 15:00:00 | 2026-03-02 00:00:00 | - | NOTE | maya | done |") {
		t.Errorf("Tokyo crosses midnight locally: %s", timelineRows(tokyo))
	}
	// An explicit location overrides the journal's.
	s := newSynth(t, time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), &incident.RoomInfo{Timezone: "Europe/Paris"})
	loc, _ := time.LoadLocation("Asia/Kolkata")
	if md := string(render(t, s.load(Options{Location: loc}), Markdown)); !strings.Contains(md, "Time (Asia/Kolkata)") {
		t.Error("Options.Location should override the journal's zone")
	}
}

var seqCell = regexp.MustCompile(`\| #\d+ \|`)

func timelineRows(md string) []string {
	sec := md[strings.Index(md, "## Timeline"):]
	sec = sec[:strings.Index(sec, "## Alerts")]
	var rows []string
	for _, l := range strings.Split(sec, "\n") {
		if strings.HasPrefix(l, "| ") && seqCell.MatchString(l) {
			rows = append(rows, l)
		}
	}
	return rows
}

// TestFilters: --important, --service and --from/--to select events,
// alerts and runs in every format, without changing durations.
func TestFilters(t *testing.T) {
	imp := loadFixture(t, Options{Filter: Filter{Important: true}})
	var seqs []int64
	for _, e := range imp.Events {
		seqs = append(seqs, e.Seq)
	}
	if got := fmtInts(seqs); got != "[10,24,30,52,64]" {
		t.Errorf("important events %v, want 10 24 30 52 64 (11 was unmarked)", seqs)
	}
	var ids []string
	for _, a := range imp.Alerts {
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, ",") != "A23,A64" {
		t.Errorf("alerts with an important event: %v", ids)
	}
	if len(imp.Runs) != 1 || imp.Runs[0].ID != "R41" {
		t.Errorf("runs with an important event: %+v", imp.Runs)
	}
	// Durations come from the whole journal even when the ACK is filtered out.
	if d, ok := imp.Alerts[0].TimeToAck(); !ok || d != 6*time.Minute {
		t.Errorf("A23 time to ack under --important: %v", d)
	}
	rows, err := csv.NewReader(bytes.NewReader(render(t, imp, CSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		if row[6] != "true" {
			t.Errorf("--important CSV row not important: %v", row)
		}
	}
	if len(rows) != 6 {
		t.Errorf("--important CSV has %d records, want header + 5", len(rows))
	}

	svc := loadFixture(t, Options{Filter: Filter{Service: "history"}})
	for _, e := range svc.Events {
		if e.Service != "history" {
			t.Errorf("--service history shows %s", e.Line())
		}
	}
	if len(svc.Alerts) != 2 || len(svc.Runs) != 0 || len(svc.Panes) != 1 || svc.Panes[0].Service != "history" {
		t.Errorf("--service history: %d alerts, %d runs, %d panes", len(svc.Alerts), len(svc.Runs), len(svc.Panes))
	}
	if ch := svc.Charts(); len(ch) != 1 || ch[0].Service != "history" {
		t.Errorf("--service history charts: %d", len(ch))
	}
	var doc map[string]any
	if err := json.Unmarshal(render(t, svc, JSON), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc["samples"].([]any) {
		if s.(map[string]any)["service"] != "history" {
			t.Fatalf("--service history JSON sample %v", s)
		}
	}

	from, to := ptime("2026-02-01T00:00:00Z"), ptime("2026-02-01T00:10:00Z")
	win := loadFixture(t, Options{Filter: Filter{From: from, To: to}})
	for _, e := range win.Events {
		if e.Time.Before(from) || e.Time.After(to) {
			t.Errorf("window shows %s", e.Line())
		}
	}
	ids = nil
	for _, a := range win.Alerts {
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, ",") != "A23,A35,A64" {
		t.Errorf("alerts overlapping the window: %v", ids)
	}
	for _, p := range win.Panes {
		for _, s := range p.Samples {
			if s.Time.Before(from) || s.Time.After(to) {
				t.Fatalf("sample outside the window: %+v", s)
			}
		}
	}

	j, err := journal.OpenReadOnly(fixtureJournal(t))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	_, err = Load(context.Background(), j, Options{Filter: Filter{Service: "nope"}})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "tokens, history, rpc") {
		t.Errorf("unknown service: %v", err)
	}
}

func fmtInts(v []int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestInputErrors: what the command line turns into exit 1 and exit 3.
func TestInputErrors(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var ie *InputError

	_, err := Export(ctx, filepath.Join(dir, "missing.db"), Markdown, "", io.Discard, Options{})
	if err == nil || errors.As(err, &ie) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing journal: %v (want a not-exist error, not an input error)", err)
	}
	notJournal := filepath.Join(dir, "notes.txt")
	os.WriteFile(notJournal, []byte("hello, not a database\n"), 0o644)
	if _, err := Export(ctx, notJournal, Markdown, "", io.Discard, Options{}); !errors.As(err, &ie) {
		t.Errorf("not a journal: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	j, err := journal.Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := Export(ctx, empty, CSV, "", io.Discard, Options{}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "no events") {
		t.Errorf("empty journal: %v", err)
	}
	// A failed export leaves no output file behind.
	out := filepath.Join(dir, "pm.md")
	if _, err := Export(ctx, empty, Markdown, out, io.Discard, Options{}); err == nil {
		t.Fatal("empty journal exported")
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("output left behind: %v", err)
	}
}

// TestSVGIsWellFormedXML parses every chart: the standalone files, the
// charts inline in the HTML, and charts drawn from hostile names and
// non-finite values.
func TestSVGIsWellFormedXML(t *testing.T) {
	files := exportAll(t, fixtureJournal(t), t.TempDir(), Options{})
	n := 0
	for name, b := range files {
		if strings.HasSuffix(name, ".svg") {
			parseXML(t, name, b)
			n++
		}
	}
	inline := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAll(files["postmortem.html"], -1)
	for i, b := range inline {
		parseXML(t, "inline chart "+string(rune('0'+i)), b)
	}
	if n != 4 || len(inline) != 4 {
		t.Fatalf("%d chart files and %d inline charts, want 4 and 4", n, len(inline))
	}
	tok := string(files["postmortem-tokens.svg"])
	if strings.Count(tok, "<polyline points=") != 2 || strings.Count(tok, `fill="#1f77b4" fill-opacity`) != 1 || !strings.Contains(tok, ">A4<") {
		t.Errorf("tokens chart lacks its series, the db-terminate-idle band or the A4 bar:\n%s", tok)
	}
	// p95 declares clear 400ms: a green line with its label; the other
	// panes declare none.
	if strings.Count(tok, `stroke="#2ca02c"`) != 1 || !strings.Contains(tok, ">clear 400ms<") {
		t.Errorf("tokens chart lacks the clear line of p95:\n%s", tok)
	}
	for _, name := range []string{"postmortem-history.svg", "postmortem-rpc.svg"} {
		if strings.Contains(string(files[name]), "#2ca02c") {
			t.Errorf("%s draws a clear line its pane does not declare", name)
		}
	}

	hostile := `x<y&"z'` + "\x01]]><!--"
	s := newSynth(t, time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), &incident.RoomInfo{Services: []incident.ServiceInfo{
		{ID: hostile, Name: "</svg><script>alert(1)</script>", Panes: []incident.PaneInfo{{ID: "p&1", Title: "a<b", Unit: "\"u'"}}}}})
	t0 := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)
	var smp []journal.Sample
	for i := 0; i < 5000; i++ { // more points than pixels: downsampled
		v := math.Sin(float64(i) / 100)
		if i == 2000 {
			v = math.Inf(1)
		}
		smp = append(smp, journal.Sample{Service: hostile, Pane: "p&1", Time: t0.Add(time.Duration(i) * time.Second), Value: v, NoData: i%1000 == 999})
	}
	s.samples(smp...)
	s.add(incident.Event{Time: t0.Add(10 * time.Minute), Kind: incident.KindAlert, Actor: "rule", Service: hostile, Text: "<b>",
		Alert: &incident.AlertInfo{ID: "A2", Pane: "p&1", Level: incident.LevelCrit, Origin: "rule", Value: 1e308}})
	r := s.load(Options{})
	charts := r.Charts()
	if len(charts) != 1 {
		t.Fatalf("%d charts for the hostile service", len(charts))
	}
	parseXML(t, "hostile chart", charts[0].SVG)
	if len(charts[0].SVG) > 120<<10 {
		t.Errorf("5000 samples gave a %d-byte chart: not downsampled", len(charts[0].SVG))
	}
	if strings.ContainsAny(charts[0].File("pm"), `<>&"'/`) {
		t.Errorf("chart file name %q is not safe", charts[0].File("pm"))
	}
	var v any
	if err := json.Unmarshal(render(t, r, JSON), &v); err != nil {
		t.Fatalf("JSON with non-finite values: %v", err)
	}
	for _, b := range regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAll(render(t, r, HTML), -1) {
		parseXML(t, "hostile inline", b)
	}
}

func parseXML(t *testing.T, name string, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
			if se.Name.Space != "http://www.w3.org/2000/svg" {
				t.Errorf("%s: root namespace %q", name, se.Name.Space)
			}
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q", name, root)
	}
}

// TestHTMLIsSelfContainedAndEscaped: no scripts, no external references,
// user text escaped.
func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	html := string(render(t, loadFixture(t, Options{}), HTML))
	low := strings.ToLower(html)
	for _, bad := range []string{"<script", "src=", "href=", "<link", "@import", "url(", "<iframe", "<img", "<object"} {
		if strings.Contains(low, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(html, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; | pipes | *bold* [link](http://example.invalid) &amp; done`) {
		t.Error("the note with <script> is not shown as escaped text")
	}
	if !strings.Contains(html, "default-src 'none'") {
		t.Error("no Content-Security-Policy")
	}
	if !strings.Contains(html, "DB connections exhausted on tokens.<br>Terminating idle sessions.") {
		t.Error("a multi-line note lost its line break")
	}
	md := string(render(t, loadFixture(t, Options{}), Markdown))
	// Backslash escapes, not entities: the raw file reads as the note.
	if regexp.MustCompile(`(^|[^\\])<script`).MatchString(md) || strings.Contains(md, "&lt;") || strings.Contains(md, "<br>") ||
		!strings.Contains(md, `\<script\>alert("x")\</script\> \| pipes \| \*bold\* \[link\](http://example.invalid) \& done`) {
		t.Error("Markdown does not neutralise the note")
	}
	// Every table row keeps its column count (pipes in text are escaped).
	for _, row := range timelineRows(md) {
		if n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(row, -1)); n != 9 {
			t.Errorf("row has %d cell separators, want 9: %s", n, row)
		}
	}
}

// TestMarkdownOnStdoutHasNoChartLinks: without -o the charts cannot be
// written beside the file; the document says so and links nothing.
func TestMarkdownOnStdoutHasNoChartLinks(t *testing.T) {
	var out bytes.Buffer
	res, err := Export(context.Background(), fixtureJournal(t), Markdown, "", &out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 0 || strings.Contains(out.String(), ".svg") || strings.Contains(out.String(), "![") {
		t.Errorf("stdout Markdown links or writes charts: %v", res.Files)
	}
	if !strings.Contains(out.String(), "on standard output they are left out") {
		t.Error("stdout Markdown does not say where the charts are")
	}
	var file bytes.Buffer
	r := loadFixture(t, Options{})
	r.WriteMarkdown(&file, "post mortem")
	if !strings.Contains(file.String(), "![Tokens (tokens) — p95 latency (p95) (s)](post%20mortem-tokens.svg)") {
		t.Error("chart links are not relative, escaped file names")
	}
}

// TestCSV: RFC 4180, one record per event, times in UTC.
func TestCSV(t *testing.T) {
	b := render(t, loadFixture(t, Options{}), CSV)
	if !bytes.Contains(b, []byte("\r\n")) {
		t.Error("RFC 4180 wants CRLF")
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "seq,time,kind,service,actor,text,important" || len(rows) != 88 {
		t.Fatalf("header %v, %d records", rows[0], len(rows))
	}
	byseq := map[string][]string{}
	for _, row := range rows[1:] {
		if _, err := time.Parse(time.RFC3339, row[1]); err != nil || !strings.HasSuffix(row[1], "Z") {
			t.Errorf("time %q is not RFC 3339 UTC", row[1])
		}
		byseq[row[0]] = row
	}
	if got := byseq["10"]; got[5] != "DB connections exhausted on tokens.\nTerminating idle sessions." || got[6] != "true" || got[3] != "tokens" {
		t.Errorf("note #10: %q", got)
	}
	if got := byseq["33"][5]; got != scriptNote {
		t.Errorf("note #33 %q, want it verbatim", got)
	}
	if got := byseq["34"][5]; got != "'"+formulaNote {
		t.Errorf("formula note #34 %q, want it neutralised with a leading apostrophe", got)
	}
}

// TestJSON: the schema's shape, and every key it uses is documented.
func TestJSON(t *testing.T) {
	b := render(t, loadFixture(t, Options{}), JSON)
	var doc struct {
		SchemaVersion int                        `json:"schema_version"`
		Incident      map[string]json.RawMessage `json:"incident"`
		Events        []map[string]any           `json:"events"`
		Samples       []map[string]any           `json:"samples"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != SchemaVersion || SchemaVersion != 1 {
		t.Fatalf("schema_version %d", doc.SchemaVersion)
	}
	for i, e := range doc.Events {
		if int(e["seq"].(float64)) != i+1 {
			t.Fatalf("event %d has seq %v", i, e["seq"])
		}
	}
	nulls := 0
	for _, s := range doc.Samples {
		if s["value"] == nil {
			nulls++
		}
	}
	if len(doc.Samples) != 4*101 || nulls != 2 {
		t.Errorf("%d samples with %d nulls, want 404 and 2", len(doc.Samples), nulls)
	}
	// The room's roster and escalation policy, and escalation waits.
	var full struct {
		Incident struct {
			People []struct {
				Handle string `json:"handle"`
				Name   string `json:"name"`
			} `json:"people"`
			Escalation *struct {
				Backup    float64 `json:"backup_seconds"`
				Commander float64 `json:"commander_seconds"`
			} `json:"escalation"`
			Services []struct {
				ID    string `json:"id"`
				Panes []struct {
					ID    string   `json:"id"`
					Clear *float64 `json:"clear"`
					For   float64  `json:"for_seconds"`
				} `json:"panes"`
			} `json:"services"`
			Alerts []struct {
				ID          string `json:"id"`
				Escalations []struct {
					To    string    `json:"to"`
					Since time.Time `json:"since"`
					Wait  float64   `json:"wait_seconds"`
				} `json:"escalations"`
			} `json:"alerts"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(b, &full); err != nil {
		t.Fatal(err)
	}
	inc := full.Incident
	if len(inc.Alerts) != 7 || len(inc.Services) == 0 || len(inc.Services[0].Panes) == 0 {
		t.Fatalf("%d alerts, %d services", len(inc.Alerts), len(inc.Services))
	}
	if len(inc.People) != 7 || inc.People[0].Handle != "maya" || inc.People[0].Name != "Maya Okafor" || inc.People[2].Handle != "bob" || inc.People[2].Name != "" {
		t.Errorf("people %+v", inc.People)
	}
	if e := inc.Escalation; e == nil || e.Backup != 120 || e.Commander != 300 {
		t.Errorf("escalation %+v", e)
	}
	if p := inc.Services[0].Panes[0]; p.ID != "p95" || p.Clear == nil || *p.Clear != 0.4 || p.For != 10 {
		t.Errorf("tokens/p95 pane %+v", p)
	}
	if a := inc.Alerts[6]; a.ID != "A70" || len(a.Escalations) != 1 || a.Escalations[0].To != "dave" ||
		!a.Escalations[0].Since.Equal(ptime("2026-02-01T00:16:30Z")) || a.Escalations[0].Wait != 120 {
		t.Errorf("A70 escalations %+v: want dave, 120s after the upgrade at 00:16:30", a)
	}
	if a := inc.Alerts[2]; a.ID != "A23" || len(a.Escalations) != 1 || !a.Escalations[0].Since.Equal(ptime("2026-01-31T23:52:00Z")) || a.Escalations[0].Wait != 120 {
		t.Errorf("A23 escalations %+v: want maya, 120s after the firing (no backup: the commander at the backup delay)", a)
	}
	// Every key in the output is named in SCHEMA.md.
	schema, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	var all any
	json.Unmarshal(b, &all)
	keys := map[string]bool{}
	collectKeys(all, "", keys)
	documented := map[string]bool{}
	var code []string
	for i, part := range strings.Split(string(schema), "```") {
		if i%2 == 1 {
			code = append(code, part) // a fenced block
			continue
		}
		code = append(code, regexp.MustCompile("`[^`]+`").FindAllString(part, -1)...)
	}
	for _, c := range code {
		for _, w := range regexp.MustCompile(`[a-z_]+`).FindAllString(c, -1) {
			documented[w] = true
		}
	}
	for k := range keys {
		if !documented[k] {
			t.Errorf("JSON key %q is not documented (in code) in SCHEMA.md", k)
		}
	}
}

// collectKeys gathers object keys, skipping maps whose keys are data
// (run parameters, per-service owners, definitions).
func collectKeys(v any, parent string, keys map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if parent == "params" || parent == "services" || parent == "definitions" {
				collectKeys(x, "", keys)
				continue
			}
			keys[k] = true
			collectKeys(x, k, keys)
		}
	case []any:
		for _, x := range v {
			collectKeys(x, "", keys)
		}
	}
}

// TestJournalWithoutRoster: a DECLARE written before the room carried
// people and the escalation policy exports handles, no policy, and an
// escalation counted from the firing.
func TestJournalWithoutRoster(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)
	s := newSynth(t, t0, &incident.RoomInfo{Services: []incident.ServiceInfo{{ID: "api", Panes: []incident.PaneInfo{{ID: "p95", Warn: fp(1)}}}}})
	s.add(incident.Event{Time: t0.Add(time.Minute), Kind: incident.KindAlert, Actor: "rule", Service: "api", Text: "slow",
		Alert: &incident.AlertInfo{ID: "A2", Pane: "p95", Level: incident.LevelWarn, Origin: "rule"}})
	s.add(incident.Event{Time: t0.Add(6 * time.Minute), Kind: incident.KindEscalate, Actor: "escalation", Service: "api",
		Alert: &incident.AlertInfo{ID: "A2", Pane: "p95", To: "maya", Step: 2}})
	r := s.load(Options{})
	if r.Escalation.Known() || len(r.People) != 0 || r.Person("maya") != "maya" || r.Person("") != "—" {
		t.Errorf("policy %+v, people %+v, maya shown as %q", r.Escalation, r.People, r.Person("maya"))
	}
	md := string(render(t, r, Markdown))
	if strings.Contains(md, "Escalation policy") || !strings.Contains(md, "| commander | maya | maya |") || !strings.Contains(md, "| maya after 5m00s |") {
		t.Errorf("Markdown without a roster or policy:\n%s", md)
	}
	var doc struct {
		Incident struct {
			People     []any           `json:"people"`
			Escalation json.RawMessage `json:"escalation"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(render(t, r, JSON), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Incident.People == nil || len(doc.Incident.People) != 0 || string(doc.Incident.Escalation) != "null" {
		t.Errorf("JSON people %v, escalation %s: want [] and null", doc.Incident.People, doc.Incident.Escalation)
	}
}

// TestNoEnvironmentInExports: exports carry journal text only.
func TestNoEnvironmentInExports(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-0000-secret-token-value")
	t.Setenv("DD_API_KEY", "0123456789abcdef0123456789abcdef")
	for name, b := range exportAll(t, fixtureJournal(t), t.TempDir(), Options{}) {
		if bytes.Contains(b, []byte("secret-token-value")) || bytes.Contains(b, []byte("0123456789abcdef0123456789abcdef")) {
			t.Errorf("%s contains an environment secret", name)
		}
	}
}
