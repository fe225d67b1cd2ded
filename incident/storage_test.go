package incident

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/journal"
)

// fullDisk is a journal whose appends fail while full is set, as a full
// disk makes them fail.
type fullDisk struct {
	journal.Journal
	full atomic.Bool
}

func (f *fullDisk) Append(ctx context.Context, evs []journal.Event) error {
	if f.full.Load() {
		return fmt.Errorf("journal commit: %w: database or disk is full (13)", journal.ErrDiskFull)
	}
	return f.Journal.Append(ctx, evs)
}

func (f *fullDisk) Health() journal.Health {
	if f.full.Load() {
		return journal.Health{State: journal.StorageFailing, Reason: "the journal's disk is full"}
	}
	return f.Journal.Health()
}

func openWith(t *testing.T, j journal.Journal, clk *clock.Fake) *harness {
	t.Helper()
	e, err := New(Options{Config: testConfig(), Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	h := &harness{t: t, e: e, clk: clk, cancel: cancel}
	t.Cleanup(func() { cancel(); <-e.Done() })
	h.state()
	return h
}

// TestFailedCommitRefusesTheCommandAndTheRoomGoesOn: while the journal
// cannot write, a command that needs a commit is refused with the reason,
// nothing it would have changed shows, samples still move the panes, and
// the engine keeps running. When the disk has room again, commands commit
// where the log left off and the live state is still the journal's fold.
func TestFailedCommitRefusesTheCommandAndTheRoomGoesOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	sq, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	j := &fullDisk{Journal: sq}
	h := openWith(t, j, clock.NewFake(t0))
	h.observe(Sample{Service: "history", Pane: "rps", Value: 60000})
	alert := h.openAlert("history")
	if alert == nil {
		t.Fatal("no alert")
	}
	before := h.state()

	j.full.Store(true)
	rep := h.do(Note{By: "maya", Text: "typed while the disk is full"})
	if !errors.Is(rep.Err, ErrNotRecorded) || !errors.Is(rep.Err, journal.ErrDiskFull) || rep.Seq != 0 {
		t.Fatalf("note on a full disk: %+v", rep)
	}
	if !strings.Contains(rep.Err.Error(), "disk is full") {
		t.Fatalf("the refusal does not say why: %v", rep.Err)
	}
	if rep := h.do(Ack{By: "bob", AlertID: alert.ID}); !errors.Is(rep.Err, ErrNotRecorded) {
		t.Fatalf("ack on a full disk: %+v", rep)
	}
	// A sample that would fire a new alert moves its pane, but the alert
	// is not shown before it is committed.
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 5})
	st := h.state()
	if st.LastSeq != before.LastSeq || len(st.Recent) != len(before.Recent) || st.Alerts[alert.ID].Acked() || h.openAlert("tokens") != nil {
		t.Fatalf("an event that was not committed shows: last %d (was %d), acked %v", st.LastSeq, before.LastSeq, st.Alerts[alert.ID].Acked())
	}
	if p := st.Panes[PaneKey("tokens", "p95")]; p == nil || p.Value != 5 {
		t.Fatalf("the sample did not reach its pane: %+v", p)
	}
	if st.Storage.State != journal.StorageFailing {
		t.Fatalf("storage health not published: %+v", st.Storage)
	}
	h.advance(3 * time.Second) // heartbeats on a full disk
	select {
	case <-h.e.Done():
		t.Fatalf("the engine stopped: %v", h.e.Err())
	default:
	}

	j.full.Store(false)
	rep = h.ok(Note{By: "maya", Text: "space is back"})
	if rep.Seq != before.LastSeq+1 {
		t.Fatalf("note after recovery got #%d", rep.Seq)
	}
	h.ok(Ack{By: "bob", AlertID: alert.ID})
	h.advance(12 * time.Second) // the tokens alert (for: 10s) fires now that it can be recorded
	live := h.state()
	if live.Storage.State != journal.StorageOK || h.openAlert("tokens") == nil || !live.Alerts[alert.ID].Acked() {
		t.Fatalf("after recovery: storage %+v, tokens alert %v", live.Storage, h.openAlert("tokens"))
	}
	re := NewState()
	if err := replay(sq, re); err != nil {
		t.Fatal(err)
	}
	if re.LastSeq != live.LastSeq || len(re.Alerts) != len(live.Alerts) {
		t.Fatalf("live state (#%d, %d alerts) is not the journal's fold (#%d, %d alerts)", live.LastSeq, len(live.Alerts), re.LastSeq, len(re.Alerts))
	}
	for i, ev := range re.Recent {
		if ev.Text == "typed while the disk is full" || ev.Seq != int64(i+1) {
			t.Fatalf("journal event %d: %+v", i, ev)
		}
	}
}

// TestTimelineNeverGoesBackAcrossARestart: a journal written under a
// clock 15 minutes ahead is continued by a process whose clock is behind.
// Event times never go back, the skew is recorded, and durations between
// new events are the time that really passed.
func TestTimelineNeverGoesBackAcrossARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skew.db")
	ahead := clock.NewFake(t0.Add(15 * time.Minute))
	sq, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := openWith(t, sq, ahead)
	h.ok(Note{By: "maya", Text: "written under a fast clock"})
	last := h.state().Recent[len(h.state().Recent)-1].Time
	h.cancel()
	<-h.e.Done()
	sq.Close()

	sq, err = journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	behind := clock.NewFake(t0) // 15 minutes behind the journal
	h = openWith(t, sq, behind)
	h.advance(time.Second)
	h.observe(Sample{Service: "history", Pane: "rps", Value: 60000})
	h.advance(30 * time.Second)
	a := h.openAlert("history")
	rep := h.ok(Ack{By: "bob", AlertID: a.ID})
	st := h.state()
	prev := time.Time{}
	var clockEv *Event
	for i, ev := range st.Recent {
		if ev.Time.Before(prev) {
			t.Fatalf("#%d at %s is before #%d at %s", ev.Seq, ev.Time, st.Recent[i-1].Seq, prev)
		}
		prev = ev.Time
		if ev.Kind == KindClock && clockEv == nil {
			clockEv = &st.Recent[i]
		}
	}
	if clockEv == nil || !strings.Contains(clockEv.Text, "15m") || clockEv.Time.Before(last) {
		t.Fatalf("the skew is not recorded: %+v", clockEv)
	}
	if got := rep.Events[0].Text; !strings.Contains(got, "after 30s") {
		t.Fatalf("ack duration on the monotonic clock: %q", got)
	}
	// Later events keep the true spacing: 16 minutes later is 16 minutes
	// after on the timeline, though the system clock still reads behind.
	h.advance(16 * time.Minute)
	rep2 := h.ok(Note{By: "maya", Text: "later"})
	if got := rep2.Events[0].Time.Sub(rep.Events[0].Time); got != 16*time.Minute {
		t.Fatalf("16 minutes later is %s later on the timeline", got)
	}
}

// TestSharedCopiesAreIndependent: readers' copies made by share (which
// share the alerts map, resolved alerts, recent events and sparkline
// arrays) never see each other's changes, nor change what they were
// shared from.
func TestSharedCopiesAreIndependent(t *testing.T) {
	s := NewState()
	fire := func(st *State, seq int64, id string) {
		st.Apply(Event{Seq: seq, Time: t0, Kind: KindAlert, Service: "tokens", Text: id,
			Alert: &AlertInfo{ID: id, Pane: "p95", Level: LevelCrit, Origin: "rule"}})
	}
	fire(s, 1, "A1")
	fire(s, 2, "A2")
	s.Apply(Event{Seq: 3, Time: t0, Kind: KindResolve, Service: "tokens", Alert: &AlertInfo{ID: "A2"}})
	s.ApplySamples([]Sample{{Service: "tokens", Pane: "p95", Time: t0, Value: 1}}, t0)
	frozen := s.Clone()
	a, b := frozen.share(), frozen.share()
	a.Apply(Event{Seq: 4, Time: t0, Kind: KindAck, Actor: "alice", Service: "tokens", Alert: &AlertInfo{ID: "A1"}})
	a.Apply(Event{Seq: 5, Time: t0, Kind: KindEscalate, Service: "tokens", Alert: &AlertInfo{ID: "A2", Step: 2}})
	fire(b, 4, "A4")
	b.ApplySamples([]Sample{{Service: "tokens", Pane: "p95", Time: t0.Add(time.Second), Value: 2}}, t0)
	s.Apply(Event{Seq: 4, Time: t0, Kind: KindResolve, Service: "tokens", Alert: &AlertInfo{ID: "A1"}})
	for name, st := range map[string]*State{"frozen": frozen, "b": b} {
		if st.Alerts["A1"].Acked() || st.Alerts["A2"].Escalated != 0 {
			t.Fatalf("%s sees a's changes: %+v %+v", name, st.Alerts["A1"], st.Alerts["A2"])
		}
	}
	if frozen.Alerts["A4"] != nil || a.Alerts["A4"] != nil || len(frozen.Recent) != 3 || len(a.Recent) != 5 {
		t.Fatalf("b's alert leaked: frozen %d events, a %d", len(frozen.Recent), len(a.Recent))
	}
	if len(frozen.Panes[PaneKey("tokens", "p95")].Series) != 1 || len(b.Panes[PaneKey("tokens", "p95")].Series) != 2 {
		t.Fatal("sparklines are shared")
	}
	if !frozen.Alerts["A1"].Open() || !a.Alerts["A1"].Open() || s.Alerts["A1"].Open() {
		t.Fatal("the live state's resolve reached its copies")
	}
}
