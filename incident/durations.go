package incident

import (
	"slices"
	"sort"
	"time"
)

// This file holds the postmortem arithmetic: an alert's whole life as the
// timeline recorded it, and the durations derived from it. It is a pure
// fold over committed events, so the export and the TUI measure the same
// way.
//
// Definitions (they are part of the export's documented schema):
//
//   - Time to acknowledge (TTA) is from the firing (the alert's first ALERT
//     event) to its first ACK: how long until a person responded. An alert
//     that was never acked has no TTA.
//   - An upgrade to crit clears an ack (see State.applyAlert): someone must
//     look again. That does not change the alert's TTA; the wait from the
//     upgrade to the next ACK is recorded as a re-ack (AckRecord.Reack) and
//     reported beside it, never averaged into the TTA means.
//   - Time to resolve (TTR) is from the firing to the RESOLVE. An alert that
//     resolves and later fires again is two alerts (rules give a re-fire a
//     new id), each with its own TTA and TTR.
//   - All durations are differences of the events' absolute (UTC) times, so
//     they are correct across midnight, handoffs and restarts.
//   - An imported alert that carries its origin's times (Alertmanager's
//     startsAt and endsAt, Prometheus' activeAt) fired and resolved at
//     those times, not when they reached the room (Alertmanager delivers
//     after its group_wait and group_interval); ReceivedAt and
//     ResolvedSeq's event time say when the room learned of them.

// LevelChange is one ALERT event of an alert: its firing or a change of level.
type LevelChange struct {
	Seq       int64
	At        time.Time
	Level     Level
	Value     float64
	Threshold float64
	Unit      string
	Text      string
	// Unacked is set when this change (an upgrade to crit) cleared an ack.
	Unacked bool
}

// AckRecord is one acknowledgement of an alert.
type AckRecord struct {
	Seq int64
	At  time.Time
	By  string
	// Since is when the wait this ack ended began: the firing for the
	// first ack, or the upgrade to crit that cleared an earlier ack.
	Since time.Time
	// Reack is set for an ack that followed an upgrade to crit.
	Reack bool
}

// Wait is how long the ack took from Since.
func (a AckRecord) Wait() time.Duration { return a.At.Sub(a.Since) }

// EscalationRecord is one escalation step of an unacked alert.
type EscalationRecord struct {
	Seq  int64
	At   time.Time
	To   string
	Step int // 1 backup, 2 commander
}

// AlertLife is one alert from firing to resolution.
type AlertLife struct {
	ID      string
	Service string
	Pane    string
	Origin  string
	Key     string

	Seq     int64     // the ALERT event that fired it
	FiredAt time.Time // the origin's start when it gave one, else ReceivedAt
	// ReceivedAt is when the room received the firing.
	ReceivedAt time.Time
	Text       string // the firing event's text
	Level      Level  // the latest level
	Worst      Level  // the worst level it reached

	Levels      []LevelChange // every ALERT event, oldest first
	Acks        []AckRecord
	Escalations []EscalationRecord

	ResolvedSeq int64
	ResolvedAt  time.Time
	ResolvedBy  string
	ResolveText string

	acked      bool      // an ack is in effect now
	unackedAt  time.Time // when the latest upgrade cleared the ack
	unackedSet bool
}

// Resolved reports whether the alert was resolved.
func (a *AlertLife) Resolved() bool { return a.ResolvedSeq != 0 }

// TimeToAck is from the firing to the first ACK (false: never acked).
func (a *AlertLife) TimeToAck() (time.Duration, bool) {
	if len(a.Acks) == 0 {
		return 0, false
	}
	return a.Acks[0].At.Sub(a.FiredAt), true
}

// TimeToResolve is from the firing to the RESOLVE (false: still open).
func (a *AlertLife) TimeToResolve() (time.Duration, bool) {
	if !a.Resolved() {
		return 0, false
	}
	return a.ResolvedAt.Sub(a.FiredAt), true
}

// Reacks are the acks that followed an upgrade to crit.
func (a *AlertLife) Reacks() []AckRecord {
	var out []AckRecord
	for _, r := range a.Acks {
		if r.Reack {
			out = append(out, r)
		}
	}
	return out
}

// AlertLives folds ALERT, ACK, RESOLVE and ESCALATE events into alert
// lives. Feed it every event of a journal in seq order.
type AlertLives struct {
	byID map[string]*AlertLife
	list []*AlertLife
}

// NewAlertLives returns an empty fold.
func NewAlertLives() *AlertLives { return &AlertLives{byID: map[string]*AlertLife{}} }

// Apply folds one event; events of other kinds are ignored.
func (l *AlertLives) Apply(e Event) {
	if e.Alert == nil {
		return
	}
	switch e.Kind {
	case KindAlert:
		a := l.byID[e.Alert.ID]
		ch := LevelChange{Seq: e.Seq, At: e.Time, Level: e.Alert.Level, Value: e.Alert.Value,
			Threshold: e.Alert.Threshold, Unit: e.Alert.Unit, Text: e.Text}
		if a == nil {
			a = &AlertLife{ID: e.Alert.ID, Service: e.Service, Pane: e.Alert.Pane, Origin: e.Alert.Origin,
				Key: e.Alert.Key, Seq: e.Seq, FiredAt: e.Time, ReceivedAt: e.Time, Text: e.Text, Worst: e.Alert.Level}
			if st := e.Alert.StartsAt; !st.IsZero() && st.Before(e.Time) {
				a.FiredAt = st
			}
			l.byID[a.ID] = a
			l.list = append(l.list, a)
		} else if e.Alert.Level == LevelCrit && a.Level != LevelCrit && a.acked {
			// Mirrors State.applyAlert: worse than when it was acked.
			ch.Unacked = true
			a.acked = false
			a.unackedAt, a.unackedSet = e.Time, true
		}
		if e.Alert.Level.Rank() > a.Worst.Rank() {
			a.Worst = e.Alert.Level
		}
		a.Level = e.Alert.Level
		a.Levels = append(a.Levels, ch)
	case KindAck:
		a := l.byID[e.Alert.ID]
		if a == nil {
			return
		}
		r := AckRecord{Seq: e.Seq, At: e.Time, By: e.Actor, Since: a.FiredAt}
		if a.unackedSet {
			r.Since, r.Reack = a.unackedAt, true
			a.unackedSet = false
		}
		a.Acks = append(a.Acks, r)
		a.acked = true
	case KindResolve:
		a := l.byID[e.Alert.ID]
		if a == nil || a.Resolved() {
			return
		}
		a.ResolvedSeq, a.ResolvedAt, a.ResolvedBy, a.ResolveText = e.Seq, e.Time, e.Actor, e.Text
		if end := e.Alert.EndsAt; !end.IsZero() && end.Before(e.Time) && !end.Before(a.FiredAt) {
			a.ResolvedAt = end
		}
	case KindEscalate:
		ids := []string{e.Alert.ID}
		for _, x := range e.Alert.Also {
			ids = append(ids, x.Alert)
		}
		for _, id := range ids {
			if a := l.byID[id]; a != nil {
				a.Escalations = append(a.Escalations, EscalationRecord{Seq: e.Seq, At: e.Time, To: e.Alert.To, Step: e.Alert.Step})
			}
		}
	}
}

// List returns every alert in firing order.
func (l *AlertLives) List() []*AlertLife { return l.list }

// AlertStats summarises the alerts of one service.
type AlertStats struct {
	Service   string // "" for alerts that belong to no service
	Alerts    int
	Acked     int // acked at least once
	Resolved  int
	Escalated int // escalated at least once
	Reacks    int // acks after an upgrade to crit
	// MeanTTA is over the acked alerts, MeanTTR over the resolved ones;
	// each is valid only when its count is non-zero.
	MeanTTA time.Duration
	MeanTTR time.Duration
}

// StatsByService computes AlertStats per service, sorted by service id,
// followed by one row for all of them together (Service "*").
func StatsByService(lives []*AlertLife) []AlertStats {
	type acc struct {
		st       AlertStats
		tta, ttr time.Duration
	}
	by := map[string]*acc{}
	all := &acc{st: AlertStats{Service: "*"}}
	for _, a := range lives {
		s := by[a.Service]
		if s == nil {
			s = &acc{st: AlertStats{Service: a.Service}}
			by[a.Service] = s
		}
		for _, x := range []*acc{s, all} {
			x.st.Alerts++
			if d, ok := a.TimeToAck(); ok {
				x.st.Acked++
				x.tta += d
			}
			if d, ok := a.TimeToResolve(); ok {
				x.st.Resolved++
				x.ttr += d
			}
			if slices.ContainsFunc(a.Escalations, func(e EscalationRecord) bool { return e.Step > 0 }) {
				x.st.Escalated++ // beyond the owner
			}
			x.st.Reacks += len(a.Reacks())
		}
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]AlertStats, 0, len(keys)+1)
	for _, k := range append(keys, "*") {
		x := by[k]
		if k == "*" {
			x = all
		}
		if x.st.Acked > 0 {
			x.st.MeanTTA = x.tta / time.Duration(x.st.Acked)
		}
		if x.st.Resolved > 0 {
			x.st.MeanTTR = x.ttr / time.Duration(x.st.Resolved)
		}
		out = append(out, x.st)
	}
	return out
}
