package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// SchemaVersion is the version of the JSON export's schema (SCHEMA.md).
// It changes only when a field is removed or changes meaning; new fields
// may be added within a version.
const SchemaVersion = 1

// jfloat is a number that encodes NaN and ±Inf as null.
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func jf(v float64) *jfloat { f := jfloat(v); return &f }

func seconds(d time.Duration) *jfloat { return jf(d.Seconds()) }

func jtime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

type jsonFilters struct {
	Important bool       `json:"important"`
	Service   string     `json:"service"`
	From      *time.Time `json:"from"`
	To        *time.Time `json:"to"`
}

type jsonRoles struct {
	AtDeclaration roles.Assignments `json:"at_declaration"`
	AtLastEvent   roles.Assignments `json:"at_last_event"`
}

type jsonSpell struct {
	Commander string    `json:"commander"`
	FromSeq   int64     `json:"from_seq"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Seconds   *jfloat   `json:"seconds"`
	Current   bool      `json:"current"`
}

type jsonLevel struct {
	Seq       int64          `json:"seq"`
	At        time.Time      `json:"at"`
	Level     incident.Level `json:"level"`
	Value     *jfloat        `json:"value"`
	Threshold *jfloat        `json:"threshold"`
	Unit      string         `json:"unit"`
	Text      string         `json:"text"`
	Unacked   bool           `json:"unacked"`
}

type jsonAck struct {
	Seq         int64     `json:"seq"`
	At          time.Time `json:"at"`
	By          string    `json:"by"`
	Since       time.Time `json:"since"`
	WaitSeconds *jfloat   `json:"wait_seconds"`
	Reack       bool      `json:"reack"`
}

type jsonEscalation struct {
	Seq         int64     `json:"seq"`
	At          time.Time `json:"at"`
	To          string    `json:"to"`
	Step        int       `json:"step"`
	Since       time.Time `json:"since"`
	WaitSeconds *jfloat   `json:"wait_seconds"`
}

type jsonPerson struct {
	Handle string `json:"handle"`
	Name   string `json:"name"`
}

type jsonPolicy struct {
	BackupSeconds    *jfloat `json:"backup_seconds"`
	CommanderSeconds *jfloat `json:"commander_seconds"`
}

type jsonAlert struct {
	ID                    string           `json:"id"`
	Service               string           `json:"service"`
	Pane                  string           `json:"pane"`
	Origin                string           `json:"origin"`
	Key                   string           `json:"key"`
	FiredSeq              int64            `json:"fired_seq"`
	FiredAt               time.Time        `json:"fired_at"`
	Text                  string           `json:"text"`
	Level                 incident.Level   `json:"level"`
	WorstLevel            incident.Level   `json:"worst_level"`
	Levels                []jsonLevel      `json:"levels"`
	Acks                  []jsonAck        `json:"acks"`
	Escalations           []jsonEscalation `json:"escalations"`
	TimeToAckSeconds      *jfloat          `json:"time_to_ack_seconds"`
	ResolvedSeq           *int64           `json:"resolved_seq"`
	ResolvedAt            *time.Time       `json:"resolved_at"`
	ResolvedBy            string           `json:"resolved_by"`
	TimeToResolveSeconds  *jfloat          `json:"time_to_resolve_seconds"`
	OpenAtLastEventSecond *jfloat          `json:"open_for_seconds_at_last_event"`
}

type jsonStats struct {
	Service                  string  `json:"service"`
	Alerts                   int     `json:"alerts"`
	Acked                    int     `json:"acked"`
	Resolved                 int     `json:"resolved"`
	Escalated                int     `json:"escalated"`
	Reacks                   int     `json:"reacks"`
	MeanTimeToAckSeconds     *jfloat `json:"mean_time_to_ack_seconds"`
	MeanTimeToResolveSeconds *jfloat `json:"mean_time_to_resolve_seconds"`
}

type jsonRunMark struct {
	Seq   int64             `json:"seq"`
	At    time.Time         `json:"at"`
	By    string            `json:"by"`
	State incident.RunState `json:"state"`
	Hash  string            `json:"hash"`
}

type jsonRunStep struct {
	Seq    int64             `json:"seq"`
	At     time.Time         `json:"at"`
	Actor  string            `json:"actor"`
	State  incident.RunState `json:"state"`
	Step   string            `json:"step"`
	Text   string            `json:"text"`
	Error  string            `json:"error"`
	Output string            `json:"output"`
}

type jsonRun struct {
	ID              string            `json:"id"`
	Playbook        string            `json:"playbook"`
	Service         string            `json:"service"`
	RequestedBy     string            `json:"requested_by"`
	RequestedAt     time.Time         `json:"requested_at"`
	RequestSeq      int64             `json:"request_seq"`
	Params          map[string]string `json:"params"`
	Hash            string            `json:"hash"`
	Approvals       []jsonRunMark     `json:"approvals"`
	Refusals        []jsonRunMark     `json:"refusals"`
	Transitions     []jsonRunStep     `json:"transitions"`
	Outcome         incident.RunState `json:"outcome"`
	Finished        bool              `json:"finished"`
	EndedAt         time.Time         `json:"ended_at"`
	DurationSeconds *jfloat           `json:"duration_seconds"`
	Output          string            `json:"output"`
	Error           string            `json:"error"`
}

type jsonImpact struct {
	Service   string     `json:"service"`
	Pane      string     `json:"pane"`
	Title     string     `json:"title"`
	Unit      string     `json:"unit"`
	Direction string     `json:"direction"`
	Samples   int        `json:"samples"`
	NoData    int        `json:"nodata"`
	Min       *jfloat    `json:"min"`
	Max       *jfloat    `json:"max"`
	Peak      *jfloat    `json:"peak"`
	PeakAt    *time.Time `json:"peak_at"`
	Last      *jfloat    `json:"last"`
	LastAt    *time.Time `json:"last_at"`
}

type jsonIncident struct {
	Name        string         `json:"name"`
	DeclaredAt  time.Time      `json:"declared_at"`
	DeclaredBy  string         `json:"declared_by"`
	FirstSeq    int64          `json:"first_seq"`
	LastSeq     int64          `json:"last_seq"`
	FirstAt     time.Time      `json:"first_event_at"`
	LastAt      time.Time      `json:"last_event_at"`
	Timezone    string         `json:"timezone"`
	Launch      *time.Time     `json:"launch"`
	Simulated   bool           `json:"simulated"`
	Filters     jsonFilters    `json:"filters"`
	Services    []ServiceInfo  `json:"services"`
	People      []jsonPerson   `json:"people"`
	Escalation  *jsonPolicy    `json:"escalation"`
	Roles       jsonRoles      `json:"roles"`
	Command     []jsonSpell    `json:"command"`
	Alerts      []jsonAlert    `json:"alerts"`
	AlertStats  []jsonStats    `json:"alert_stats"`
	Runs        []jsonRun      `json:"runs"`
	Impact      []jsonImpact   `json:"impact"`
	Lifecycle   jsonLife       `json:"lifecycle"`
	Definitions map[string]any `json:"definitions"`
}

type jsonLife struct {
	Severity     string               `json:"severity"`
	SeverityName string               `json:"severity_name"`
	Status       string               `json:"status"`
	PublicSince  *time.Time           `json:"public_since"`
	Marks        map[string]time.Time `json:"marks"`
	Times        jsonTimes            `json:"times"`
	Components   []jsonComponent      `json:"components"`
	Updates      []jsonUpdate         `json:"public_updates"`
	// What customers heard.
	FirstUpdateSeconds    *jfloat    `json:"first_update_seconds"`
	LongestSilenceSeconds *jfloat    `json:"longest_silence_seconds"`
	LongestSilenceFrom    *time.Time `json:"longest_silence_from"`
	LongestSilenceTo      *time.Time `json:"longest_silence_to"`
	Overdues              int        `json:"overdues"`
	FollowUps             []int64    `json:"follow_up_seqs"`
}

type jsonTimes struct {
	Start       *time.Time        `json:"start"`
	StartMarked bool              `json:"start_marked"`
	Detected    *time.Time        `json:"detected"`
	Acked       *time.Time        `json:"acked"`
	Mitigated   *time.Time        `json:"mitigated"`
	Resolved    *time.Time        `json:"resolved"`
	ImpactEnd   *time.Time        `json:"impact_end"`
	TTD         *jfloat           `json:"time_to_detect_seconds"`
	TTA         *jfloat           `json:"time_to_acknowledge_seconds"`
	TTM         *jfloat           `json:"time_to_mitigate_seconds"`
	TTR         *jfloat           `json:"time_to_resolve_seconds"`
	Impact      *jfloat           `json:"impact_seconds"`
	How         map[string]string `json:"how"`
}

type jsonComponent struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Services []string `json:"services"`
	Status   string   `json:"status"`
}

type jsonUpdate struct {
	ID          string                     `json:"id"`
	Key         string                     `json:"key"`
	Status      string                     `json:"status"`
	Title       string                     `json:"title"`
	Body        string                     `json:"body"`
	Notify      bool                       `json:"notify"`
	Components  []incident.ComponentChange `json:"components"`
	Template    string                     `json:"template"`
	By          string                     `json:"by"`
	Approver    string                     `json:"approver"`
	DraftedAt   time.Time                  `json:"drafted_at"`
	PublishedAt time.Time                  `json:"published_at"`
	PublishSeq  int64                      `json:"publish_seq"`
	Deliveries  []jsonDelivery             `json:"deliveries"`
}

type jsonDelivery struct {
	Dest   string    `json:"dest"`
	State  string    `json:"state"`
	At     time.Time `json:"at"`
	Remote string    `json:"remote"`
	Error  string    `json:"error"`
}

type jsonAlertInfo struct {
	ID        string         `json:"id"`
	Pane      string         `json:"pane"`
	Level     incident.Level `json:"level"`
	Value     jfloat         `json:"value,omitempty"`
	Threshold jfloat         `json:"threshold,omitempty"`
	Unit      string         `json:"unit,omitempty"`
	Origin    string         `json:"origin,omitempty"`
	Key       string         `json:"key,omitempty"`
	To        string         `json:"to,omitempty"`
	Step      int            `json:"step,omitempty"`
	Group     string         `json:"group,omitempty"`
	Silenced  string         `json:"silenced,omitempty"`
	StartsAt  *time.Time     `json:"starts_at,omitempty"`
	EndsAt    *time.Time     `json:"ends_at,omitempty"`
}

type jsonEvent struct {
	Seq       int64                   `json:"seq"`
	Time      time.Time               `json:"time"`
	Kind      incident.Kind           `json:"kind"`
	Actor     string                  `json:"actor"`
	Service   string                  `json:"service"`
	Text      string                  `json:"text"`
	Important bool                    `json:"important"`
	Ref       int64                   `json:"ref,omitempty"`
	Alert     *jsonAlertInfo          `json:"alert,omitempty"`
	Page      *incident.PageInfo      `json:"page,omitempty"`
	Role      *incident.RoleInfo      `json:"role,omitempty"`
	Source    *incident.SourceInfo    `json:"source,omitempty"`
	Run       *incident.RunInfo       `json:"run,omitempty"`
	Flag      *bool                   `json:"flag,omitempty"`
	Setup     *roles.Assignments      `json:"setup,omitempty"`
	Room      *incident.RoomInfo      `json:"room,omitempty"`
	Storage   string                  `json:"storage,omitempty"`
	Life      *incident.LifecycleInfo `json:"life,omitempty"`
	Update    *incident.UpdateInfo    `json:"update,omitempty"`
}

type jsonSample struct {
	Service string    `json:"service"`
	Pane    string    `json:"pane"`
	Time    time.Time `json:"time"`
	Value   *jfloat   `json:"value"`
}

// definitions state in the file itself how the durations were measured.
var definitions = map[string]any{
	"time_to_ack":     "from the alert's first ALERT event to its first ACK",
	"reack":           "an upgrade to crit clears an ack; wait_seconds of a reack runs from that upgrade to the next ACK; reacks are not in the means",
	"time_to_resolve": "from the alert's first ALERT event to its RESOLVE",
	"escalation":      "an unacked alert group escalates to the backup (the commander when the service has none), then the commander, after the declared delays; wait_seconds of an escalation runs from the firing, or from the upgrade to crit that cleared an earlier ack, to the ESCALATE; a PAGE names everything escalated to one person since their last page, at most one a minute",
	"refire":          "an alert that resolves and fires again is two alerts with different ids",
	"means":           "over the alerts listed (after filters) that were acked, or resolved",
	"durations":       "computed from the whole journal, whatever the filters",
	"run_duration":    "from the run's first RUN event to its last",
	"incident_times":  "start is the customer-impact mark (else the detection); detected is the first warn or crit alert, not silenced, firing at or after the start (one already firing counts from the start; else when the incident went public); acked the first acknowledgement of such an alert or public status after detection; mitigated and resolved their marks, else the first status monitoring and resolved; time to detect runs start → detected (only with a marked start), to acknowledge detected → acked, to mitigate and to resolve from the start",
	"silence":         "from the start (the impact mark, else when the incident went public) through each published update to the last event; the update that says resolved closes it; first_update_seconds is the first gap, longest_silence_seconds the longest",
}

// WriteJSON writes the versioned JSON export (SCHEMA.md). Each event and
// sample is one line, so diffs of two exports stay readable.
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	inc := r.jsonIncident()
	head, err := json.MarshalIndent(inc, "", "  ")
	if err != nil {
		return err
	}
	head = textsafe.EscapeJSON(head)
	bw.WriteString("{\n\"schema_version\": " + strconv.Itoa(SchemaVersion) + ",\n\"incident\": ")
	bw.Write(head)
	bw.WriteString(",\n\"events\": [")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// record writes one value on its own line, preceded by a separator.
	n := 0
	record := func(v any) error {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return err
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		bw.WriteByte('\n')
		bw.Write(textsafe.EscapeJSON(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))))
		return nil
	}
	for _, e := range r.Events {
		if err := record(r.jsonEvent(e)); err != nil {
			return err
		}
	}
	bw.WriteString("\n],\n\"samples\": [")
	n = 0
	for _, p := range r.Panes {
		for _, s := range p.Samples {
			js := jsonSample{Service: s.Service, Pane: s.Pane, Time: s.Time.UTC()}
			if !s.NoData {
				js.Value = jf(s.Value)
			}
			if err := record(js); err != nil {
				return err
			}
		}
	}
	bw.WriteString("\n]\n}\n")
	return bw.Flush()
}

func (r *Report) jsonEvent(e incident.Event) jsonEvent {
	je := jsonEvent{Seq: e.Seq, Time: e.Time.UTC(), Kind: e.Kind, Actor: e.Actor, Service: e.Service, Text: e.Text,
		Important: r.important[e.Seq], Ref: e.Ref, Page: e.Page, Role: e.Role, Source: e.Source, Run: e.Run, Flag: e.Flag, Setup: e.Setup, Room: e.Room, Storage: string(e.Storage), Life: e.Life, Update: e.Update}
	if a := e.Alert; a != nil {
		je.Alert = &jsonAlertInfo{ID: a.ID, Pane: a.Pane, Level: a.Level, Value: jfloat(a.Value), Threshold: jfloat(a.Threshold),
			Unit: a.Unit, Origin: a.Origin, Key: a.Key, To: a.To, Step: a.Step, Group: a.Group, Silenced: a.Silenced}
		if !a.StartsAt.IsZero() {
			t := a.StartsAt.UTC()
			je.Alert.StartsAt = &t
		}
		if !a.EndsAt.IsZero() {
			t := a.EndsAt.UTC()
			je.Alert.EndsAt = &t
		}
	}
	return je
}

func (r *Report) jsonIncident() jsonIncident {
	f := r.Filter
	inc := jsonIncident{
		Name: r.Name, DeclaredAt: r.DeclaredAt.UTC(), DeclaredBy: r.DeclaredBy,
		FirstSeq: r.FirstSeq, LastSeq: r.LastSeq, FirstAt: r.FirstAt.UTC(), LastAt: r.LastAt.UTC(),
		Timezone: r.Zone, Launch: nil, Simulated: r.Simulated,
		Filters:     jsonFilters{Important: f.Important, Service: f.Service, From: jtime(f.From), To: jtime(f.To)},
		Services:    make([]ServiceInfo, 0, len(r.Services)),
		People:      make([]jsonPerson, 0, len(r.People)),
		Roles:       jsonRoles{AtDeclaration: r.Setup, AtLastEvent: r.Final},
		Command:     make([]jsonSpell, 0, len(r.Command)),
		Alerts:      make([]jsonAlert, 0, len(r.Alerts)),
		AlertStats:  make([]jsonStats, 0, len(r.Stats)),
		Runs:        make([]jsonRun, 0, len(r.Runs)),
		Impact:      make([]jsonImpact, 0, len(r.Panes)),
		Definitions: definitions,
	}
	if r.Launch != nil {
		inc.Launch = jtime(*r.Launch)
	}
	for _, s := range r.Services {
		s.Panes = append([]PaneInfo(nil), s.Panes...)
		inc.Services = append(inc.Services, s)
	}
	for _, p := range r.People {
		inc.People = append(inc.People, jsonPerson{Handle: p.Handle, Name: p.Name})
	}
	if p := r.Escalation; p.Known() {
		inc.Escalation = &jsonPolicy{}
		if p.Backup > 0 {
			inc.Escalation.BackupSeconds = seconds(p.Backup)
		}
		if p.Commander > 0 {
			inc.Escalation.CommanderSeconds = seconds(p.Commander)
		}
	}
	for _, s := range r.Command {
		inc.Command = append(inc.Command, jsonSpell{Commander: s.Commander, FromSeq: s.Seq, From: s.From.UTC(), To: s.To.UTC(),
			Seconds: seconds(s.To.Sub(s.From)), Current: s.Current})
	}
	for _, a := range r.Alerts {
		ja := jsonAlert{ID: a.ID, Service: a.Service, Pane: a.Pane, Origin: a.Origin, Key: a.Key, FiredSeq: a.Seq,
			FiredAt: a.FiredAt.UTC(), Text: a.Text, Level: a.Level, WorstLevel: a.Worst, ResolvedBy: a.ResolvedBy,
			Levels: []jsonLevel{}, Acks: []jsonAck{}, Escalations: []jsonEscalation{}}
		for _, l := range a.Levels {
			ja.Levels = append(ja.Levels, jsonLevel{Seq: l.Seq, At: l.At.UTC(), Level: l.Level, Value: jf(l.Value),
				Threshold: jf(l.Threshold), Unit: l.Unit, Text: l.Text, Unacked: l.Unacked})
		}
		for _, k := range a.Acks {
			ja.Acks = append(ja.Acks, jsonAck{Seq: k.Seq, At: k.At.UTC(), By: k.By, Since: k.Since.UTC(), WaitSeconds: seconds(k.Wait()), Reack: k.Reack})
		}
		for _, e := range a.Escalations {
			since := escalationSince(a, e)
			ja.Escalations = append(ja.Escalations, jsonEscalation{Seq: e.Seq, At: e.At.UTC(), To: e.To, Step: e.Step,
				Since: since.UTC(), WaitSeconds: seconds(e.At.Sub(since))})
		}
		if d, ok := a.TimeToAck(); ok {
			ja.TimeToAckSeconds = seconds(d)
		}
		if d, ok := a.TimeToResolve(); ok {
			seq := a.ResolvedSeq
			ja.ResolvedSeq, ja.ResolvedAt, ja.TimeToResolveSeconds = &seq, jtime(a.ResolvedAt), seconds(d)
		} else {
			ja.OpenAtLastEventSecond = seconds(r.LastAt.Sub(a.FiredAt))
		}
		inc.Alerts = append(inc.Alerts, ja)
	}
	for _, s := range r.Stats {
		js := jsonStats{Service: s.Service, Alerts: s.Alerts, Acked: s.Acked, Resolved: s.Resolved, Escalated: s.Escalated, Reacks: s.Reacks}
		if s.Acked > 0 {
			js.MeanTimeToAckSeconds = seconds(s.MeanTTA)
		}
		if s.Resolved > 0 {
			js.MeanTimeToResolveSeconds = seconds(s.MeanTTR)
		}
		inc.AlertStats = append(inc.AlertStats, js)
	}
	for _, run := range r.Runs {
		jr := jsonRun{ID: run.ID, Playbook: run.Playbook, Service: run.Service, RequestedBy: run.RequestedBy,
			RequestedAt: run.RequestedAt.UTC(), RequestSeq: run.Seq, Params: run.Params, Hash: run.Hash,
			Approvals: []jsonRunMark{}, Refusals: []jsonRunMark{}, Transitions: []jsonRunStep{},
			Outcome: run.Outcome, Finished: run.Done, EndedAt: run.EndedAt.UTC(), DurationSeconds: seconds(run.Duration()),
			Output: run.Output, Error: run.Error}
		if jr.Params == nil {
			jr.Params = map[string]string{}
		}
		for _, m := range run.Approvals {
			jr.Approvals = append(jr.Approvals, jsonRunMark{Seq: m.Seq, At: m.At.UTC(), By: m.By, State: m.State, Hash: m.Hash})
		}
		for _, m := range run.Refusals {
			jr.Refusals = append(jr.Refusals, jsonRunMark{Seq: m.Seq, At: m.At.UTC(), By: m.By, State: m.State, Hash: m.Hash})
		}
		for _, s := range run.Steps {
			jr.Transitions = append(jr.Transitions, jsonRunStep{Seq: s.Seq, At: s.At.UTC(), Actor: s.Actor, State: s.State,
				Step: s.Step, Text: s.Text, Error: s.Error, Output: s.Output})
		}
		inc.Runs = append(inc.Runs, jr)
	}
	for _, p := range r.Panes {
		ji := jsonImpact{Service: p.Service, Pane: p.Info.ID, Title: p.Info.Title, Unit: p.Info.Unit, Direction: p.Info.Direction,
			Samples: p.Values + p.NoData, NoData: p.NoData}
		if ji.Direction == "" {
			ji.Direction = "above"
		}
		if p.Values > 0 {
			ji.Min, ji.Max, ji.Peak, ji.PeakAt = jf(p.Min), jf(p.Max), jf(p.Peak), jtime(p.PeakAt)
			ji.Last, ji.LastAt = jf(p.Last), jtime(p.LastAt)
		}
		inc.Impact = append(inc.Impact, ji)
	}
	inc.Lifecycle = r.jsonLife()
	return inc
}

func (r *Report) jsonLife() jsonLife {
	l := &r.Life
	jl := jsonLife{Severity: l.Severity, Status: l.Status, PublicSince: jtime(l.PublicSince), Marks: map[string]time.Time{},
		Components: []jsonComponent{}, Updates: []jsonUpdate{}, Overdues: l.Overdues, FollowUps: []int64{}}
	if l.Severity != "" {
		jl.SeverityName = strings.TrimSpace(strings.TrimPrefix(r.severityText(l.Severity), l.Severity))
	}
	for m, at := range l.Marks {
		jl.Marks[string(m)] = at.UTC()
	}
	t := r.Times
	jt := jsonTimes{Start: jtime(t.Start), StartMarked: t.StartMarked, Detected: jtime(t.Detected), Acked: jtime(t.Acked),
		Mitigated: jtime(t.Mitigated), Resolved: jtime(t.Resolved), ImpactEnd: jtime(t.ImpactEnd), How: t.How}
	if jt.How == nil {
		jt.How = map[string]string{}
	}
	for _, f := range []struct {
		dst **jfloat
		get func() (time.Duration, bool)
	}{{&jt.TTD, t.TTD}, {&jt.TTA, t.TTA}, {&jt.TTM, t.TTM}, {&jt.TTR, t.TTR}, {&jt.Impact, t.Impact}} {
		if d, ok := f.get(); ok {
			*f.dst = seconds(d)
		}
	}
	jl.Times = jt
	for _, c := range r.Components {
		jl.Components = append(jl.Components, jsonComponent{ID: c.ID, Name: c.Name, Services: c.Services, Status: l.Component(c.ID)})
	}
	for _, u := range l.Updates {
		ju := jsonUpdate{ID: u.ID, Key: u.Key, Status: u.Draft.Status, Title: u.Draft.Title, Body: u.Draft.Body, Notify: u.Draft.Notify,
			Components: u.Draft.Components, Template: u.Draft.Template, By: u.By, Approver: u.Approver,
			DraftedAt: u.DraftedAt.UTC(), PublishedAt: u.PublishedAt.UTC(), PublishSeq: u.PublishSeq, Deliveries: []jsonDelivery{}}
		if ju.Components == nil {
			ju.Components = []incident.ComponentChange{}
		}
		dests := make([]string, 0, len(u.Delivery))
		for d := range u.Delivery {
			dests = append(dests, d)
		}
		sort.Strings(dests)
		for _, d := range dests {
			dv := u.Delivery[d]
			ju.Deliveries = append(ju.Deliveries, jsonDelivery{Dest: d, State: dv.State, At: dv.At.UTC(), Remote: dv.Remote, Error: dv.Error})
		}
		jl.Updates = append(jl.Updates, ju)
	}
	if s := r.Silence; s.HasFirst {
		jl.FirstUpdateSeconds = seconds(s.FirstUpdate)
	}
	if s := r.Silence; s.Longest > 0 {
		jl.LongestSilenceSeconds, jl.LongestSilenceFrom, jl.LongestSilenceTo = seconds(s.Longest), jtime(s.From), jtime(s.To)
	}
	for _, e := range r.FollowUps {
		jl.FollowUps = append(jl.FollowUps, e.Seq)
	}
	return jl
}
