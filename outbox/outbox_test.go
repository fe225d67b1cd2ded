package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/journal"
)

var t0 = time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC)

// script is a fake service: each Send or Check pops the next scripted
// answer (default: success), and what the service holds is recorded.
type script struct {
	mu      sync.Mutex
	sends   []string // keys, in the order sent
	checks  []string
	answers []error // for Send, in order
	checkAn []checkAnswer
	once    map[string]error // the first Send of a key gets this answer
	applied map[string]bool  // keys the service has
}

type checkAnswer struct {
	found bool
	err   error
}

func newScript() *script { return &script{applied: map[string]bool{}} }

func (s *script) Send(_ context.Context, r Row, earlier Lookup) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends = append(s.sends, r.Key)
	var err error
	if e, ok := s.once[r.Key]; ok {
		err = e
		delete(s.once, r.Key)
	} else if len(s.answers) > 0 {
		err, s.answers = s.answers[0], s.answers[1:]
	}
	var e *Error
	if err == nil || (errors.As(err, &e) && e.Class == Uncertain) {
		s.applied[r.Key] = true // an answer lost after the service applied it
	}
	if err != nil {
		return "", err
	}
	return "remote-" + r.Key, nil
}

func (s *script) Check(_ context.Context, r Row, _ Lookup) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, r.Key)
	if len(s.checkAn) > 0 {
		a := s.checkAn[0]
		s.checkAn = s.checkAn[1:]
		return "", a.found, a.err
	}
	if s.applied[r.Key] {
		return "remote-" + r.Key, true, nil
	}
	return "", false, nil
}

func (s *script) count() (sends, checks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sends), len(s.checks)
}

type rig struct {
	t       *testing.T
	clk     *clock.Fake
	path    string
	j       *journal.SQLite
	svc     *script
	ob      *Outbox
	cancel  context.CancelFunc
	mu      sync.Mutex
	settled []Row
	plan    Planner
	resend  bool
	lane    func(Row) string
}

func newRig(t *testing.T, svc *script) *rig {
	t.Helper()
	r := &rig{t: t, clk: clock.NewFake(t0), path: filepath.Join(t.TempDir(), "j.db"), svc: svc}
	r.open()
	return r
}

func (r *rig) open() {
	r.t.Helper()
	j, err := journal.Open(r.path)
	if err != nil {
		r.t.Fatal(err)
	}
	r.j = j
	r.t.Cleanup(r.close)
}

func (r *rig) start() {
	r.t.Helper()
	ob, err := New(Options{Journal: r.j, Clock: r.clk, Cursor: "test", Plan: r.plan, Seed: 1,
		Destinations: []Destination{{Name: "svc", Sender: r.svc, Rate: 1, Burst: 2, CheckAfter: 5 * time.Second, MaxBackoff: 8 * time.Second, Resend: r.resend, Lane: r.lane}},
		OnSettled: func(row Row) {
			r.mu.Lock()
			r.settled = append(r.settled, row)
			r.mu.Unlock()
		}})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := ob.Start(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.ob, r.cancel = ob, cancel
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.ob.Done()
		r.cancel = nil
	}
}

func (r *rig) close() {
	r.stop()
	if r.j != nil {
		r.j.Close()
		r.j = nil
	}
}

func (r *rig) enqueue(keys ...string) {
	r.t.Helper()
	var rows []Row
	for _, k := range keys {
		rows = append(rows, Row{Dest: "svc", Key: k, Payload: []byte(k)})
	}
	if err := r.ob.Enqueue(context.Background(), rows, 0); err != nil {
		r.t.Fatal(err)
	}
}

// quiet waits until the destination parks: idle, or waiting on the clock.
func (r *rig) quiet() {
	r.t.Helper()
	waitFor(r.t, "the destination to park", r.ob.dests["svc"].quiet)
}

func (r *rig) rows() map[string]Row {
	r.t.Helper()
	rows, err := r.j.OutboxRows(context.Background(), false)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]Row{}
	for _, x := range rows {
		out[x.Key] = x
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDeliversInOrderPaced(t *testing.T) {
	r := newRig(t, newScript())
	r.start()
	r.enqueue("a", "b", "c", "d")
	r.quiet()
	// Burst 2 at 1/s: two at once, then one a second.
	if n, _ := r.svc.count(); n != 2 {
		t.Fatalf("%d sent at once, want the burst of 2", n)
	}
	for want := 3; want <= 4; want++ {
		r.clk.Advance(time.Second)
		waitFor(t, fmt.Sprintf("send %d", want), func() bool { n, _ := r.svc.count(); return n == want })
		r.quiet()
	}
	if got := fmt.Sprint(r.svc.sends); got != "[a b c d]" {
		t.Fatalf("sent %s", got)
	}
	for k, row := range r.rows() {
		if row.State != journal.OutboxDelivered || row.Remote != "remote-"+k || row.Attempts != 1 {
			t.Errorf("row %s: %+v", k, row)
		}
	}
	if st := r.ob.Status()[0]; st.State != StateOK || st.Queued != 0 || st.Delivered != 4 {
		t.Errorf("status %+v", st)
	}
	if len(r.settled) != 4 {
		t.Errorf("%d settled callbacks, want 4", len(r.settled))
	}
}

func TestRateLimitHoldsUntilRetryAfter(t *testing.T) {
	svc := newScript()
	svc.answers = []error{&Error{Class: RateLimited, Code: "HTTP 429", RetryAfter: 30 * time.Second, Reason: "rate-limited"}}
	r := newRig(t, svc)
	r.start()
	r.enqueue("a")
	r.quiet()
	st := r.ob.Status()[0]
	if st.State != StateRateLimited || !st.RetryAt.Equal(t0.Add(30*time.Second)) || st.Queued != 1 || !errors.Is(st.Cause, ErrRateLimited) {
		t.Fatalf("status after a 429: %+v", st)
	}
	r.clk.Advance(29 * time.Second)
	r.quiet()
	if n, _ := svc.count(); n != 1 {
		t.Fatalf("sent again before Retry-After passed (%d sends)", n)
	}
	r.clk.Advance(time.Second)
	waitFor(t, "the second send", func() bool { n, _ := svc.count(); return n == 2 })
	r.quiet()
	if row := r.rows()["a"]; row.State != journal.OutboxDelivered || row.Attempts != 2 {
		t.Fatalf("row %+v", row)
	}
}

func TestUncertainIsCheckedNotResent(t *testing.T) {
	svc := newScript()
	svc.answers = []error{&Error{Class: Uncertain, Code: "timeout", Reason: "answer lost (timeout)"}}
	r := newRig(t, svc)
	r.start()
	r.enqueue("a", "b")
	r.quiet()
	if row := r.rows()["a"]; row.State != journal.OutboxUncertain || !row.WasUncertain {
		t.Fatalf("row after a lost answer: %+v", row)
	}
	if st := r.ob.Status()[0]; st.State != StateChecking || st.Uncertain != 1 || st.Queued != 2 {
		t.Fatalf("status %+v", st)
	}
	// b waits behind a: its effect may need a's.
	if n, _ := svc.count(); n != 1 {
		t.Fatalf("%d sends before the check", n)
	}
	r.clk.Advance(5 * time.Second)
	waitFor(t, "the check and b", func() bool { s, c := svc.count(); return c == 1 && s == 2 })
	r.quiet()
	if fmt.Sprint(svc.sends) != "[a b]" {
		t.Fatalf("sends %v: a was sent twice", svc.sends)
	}
	rows := r.rows()
	if rows["a"].State != journal.OutboxDelivered || rows["a"].Remote != "remote-a" || rows["a"].Checks != 1 || !rows["a"].WasUncertain {
		t.Fatalf("a: %+v", rows["a"])
	}
	if rows["b"].State != journal.OutboxDelivered {
		t.Fatalf("b: %+v", rows["b"])
	}
}

func TestUncertainNotFoundIsSentAgain(t *testing.T) {
	svc := newScript()
	// The answer was lost and the service did not apply it (the script
	// marks lost answers applied; the check says otherwise).
	svc.answers = []error{&Error{Class: Uncertain, Code: "connection reset", Reason: "answer lost"}}
	svc.checkAn = []checkAnswer{{err: &Error{Class: Retryable, Code: "HTTP 503", Reason: "unavailable"}}, {found: false}}
	r := newRig(t, svc)
	r.start()
	r.enqueue("a")
	r.quiet()
	r.clk.Advance(5 * time.Second) // first check: cannot tell
	waitFor(t, "the first check", func() bool { _, c := svc.count(); return c == 1 })
	r.quiet()
	if st := r.ob.Status()[0]; st.RetryAt.IsZero() || st.Uncertain != 1 {
		t.Fatalf("a check that could not tell should back off: %+v", st)
	}
	r.clk.Advance(10 * time.Second)
	waitFor(t, "the second check and the re-send", func() bool { s, c := svc.count(); return c == 2 && s == 2 })
	r.quiet()
	row := r.rows()["a"]
	if row.State != journal.OutboxDelivered || row.Attempts != 2 || row.Checks != 2 || !row.WasUncertain {
		t.Fatalf("row %+v", row)
	}
}

// A row left "sending" by a process that died mid-request is uncertain at
// the next start, and the service is asked before anything is sent.
func TestRestartAfterCrashChecksFirst(t *testing.T) {
	svc := newScript()
	r := newRig(t, svc)
	if err := r.j.InitOutbox(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := []Row{{Dest: "svc", Key: "a", State: journal.OutboxPending, Created: t0, Updated: t0}, {Dest: "svc", Key: "b", Created: t0, Updated: t0}}
	if err := r.j.Enqueue(context.Background(), rows, "", 0); err != nil {
		t.Fatal(err)
	}
	rows[0].State, rows[0].Attempts = journal.OutboxSending, 1 // what the dead process wrote before its request
	if err := r.j.UpdateOutbox(context.Background(), &rows[0]); err != nil {
		t.Fatal(err)
	}
	svc.applied["a"] = true // its request had arrived
	r.start()
	r.quiet()
	if s, c := svc.count(); s != 0 || c != 0 {
		t.Fatalf("%d sends and %d checks before CheckAfter", s, c)
	}
	if len(r.settled) != 1 || r.settled[0].State != journal.OutboxUncertain {
		t.Fatalf("settled %+v", r.settled)
	}
	r.clk.Advance(5 * time.Second)
	waitFor(t, "the check and b", func() bool { s, c := svc.count(); return c == 1 && s == 1 })
	r.quiet()
	if fmt.Sprint(svc.sends) != "[b]" {
		t.Fatalf("sends %v: a was sent again", svc.sends)
	}
	if got := r.rows()["a"]; got.State != journal.OutboxDelivered || got.Remote != "remote-a" {
		t.Fatalf("a %+v", got)
	}
}

// A service that deduplicates by the row's key and cannot be asked
// (Resend) gets an uncertain row again, after CheckAfter and before the
// rows behind it, and is never asked.
func TestResendIdempotentAfterLostAnswer(t *testing.T) {
	svc := newScript()
	svc.answers = []error{&Error{Class: Uncertain, Code: "timeout", Reason: "answer lost (timeout)"}}
	r := newRig(t, svc)
	r.resend = true
	r.start()
	r.enqueue("a", "b")
	r.quiet()
	if n, _ := svc.count(); n != 1 {
		t.Fatalf("%d sends before CheckAfter", n)
	}
	r.clk.Advance(5 * time.Second)
	waitFor(t, "a again, then b", func() bool { s, _ := svc.count(); return s == 3 })
	r.quiet()
	if s, c := svc.count(); fmt.Sprint(svc.sends) != "[a a b]" || c != 0 {
		t.Fatalf("sends %v, %d checks (of %d sends)", svc.sends, c, s)
	}
	if row := r.rows()["a"]; row.State != journal.OutboxDelivered || row.Attempts != 2 || !row.WasUncertain {
		t.Fatalf("a: %+v", row)
	}
}

func TestFatalStopsAndKeepsTheQueue(t *testing.T) {
	svc := newScript()
	svc.answers = []error{&Error{Class: Fatal, Code: "HTTP 401", Reason: "the API key is not valid"}}
	r := newRig(t, svc)
	r.start()
	r.enqueue("a", "b")
	r.quiet()
	st := r.ob.Status()[0]
	if st.State != StateStopped || st.Queued != 2 || !errors.Is(st.Cause, ErrFatal) || st.Err != "the API key is not valid" {
		t.Fatalf("status %+v", st)
	}
	r.clk.Advance(time.Hour)
	r.quiet()
	if n, _ := svc.count(); n != 1 {
		t.Fatalf("a stopped destination sent %d", n)
	}
	r.ob.Resume()
	waitFor(t, "both delivered", func() bool { n, _ := svc.count(); return n == 3 })
	r.quiet()
	if st := r.ob.Status()[0]; st.State != StateOK || st.Queued != 0 {
		t.Fatalf("status after resume %+v", st)
	}
}

func TestRefusedFailsAndMovesOn(t *testing.T) {
	svc := newScript()
	svc.answers = []error{&Error{Class: Refused, Code: "HTTP 422", Reason: "body is too long"}, &Error{Class: Retryable, Code: "HTTP 503", Reason: "unavailable"}}
	r := newRig(t, svc)
	r.start()
	r.enqueue("a", "b")
	r.quiet()
	rows := r.rows()
	if rows["a"].State != journal.OutboxFailed || rows["a"].Error != "body is too long" {
		t.Fatalf("a %+v", rows["a"])
	}
	st := r.ob.Status()[0]
	if st.State != StateRetrying || st.Failed != 1 || st.Queued != 1 {
		t.Fatalf("status %+v", st)
	}
	r.clk.Advance(time.Second)
	waitFor(t, "b delivered", func() bool { return r.rows()["b"].State == journal.OutboxDelivered })
}

// The planner's rows and the cursor are written together; a restart
// replays the covered events without planning them again.
func TestPlannerCursor(t *testing.T) {
	svc := newScript()
	r := newRig(t, svc)
	var mu sync.Mutex
	var replayed, planned []int64
	r.plan = func(ev journal.Event, replay bool) []Row {
		mu.Lock()
		defer mu.Unlock()
		if replay {
			replayed = append(replayed, ev.Seq)
			return nil
		}
		planned = append(planned, ev.Seq)
		if ev.Kind != "NOTE" {
			return nil
		}
		return []Row{{Dest: "svc", Key: fmt.Sprintf("note-%d", ev.Seq), Seq: ev.Seq}}
	}
	appendEvents := func(kinds ...string) {
		var evs []journal.Event
		for _, k := range kinds {
			evs = append(evs, journal.Event{Time: r.clk.Now(), Kind: k, Actor: "maya"})
		}
		if err := r.j.Append(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents("DECLARE", "NOTE", "ACK")
	r.start()
	r.ob.Wake()
	waitFor(t, "the cursor at #3", func() bool { return r.ob.Cursor() == 3 })
	r.quiet()
	if cur, _ := r.j.Cursor(context.Background(), "test"); cur != 3 {
		t.Fatalf("durable cursor %d", cur)
	}
	r.stop()
	appendEvents("NOTE")
	r.start()
	r.ob.Wake()
	waitFor(t, "the cursor at #4", func() bool { return r.ob.Cursor() == 4 })
	r.quiet()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(planned) != "[1 2 3 4]" || fmt.Sprint(replayed) != "[1 2 3]" {
		t.Fatalf("planned %v replayed %v", planned, replayed)
	}
	rows := r.rows()
	if len(rows) != 2 || rows["note-2"].State != journal.OutboxDelivered || rows["note-4"].Seq != 4 {
		t.Fatalf("rows %+v", rows)
	}
}

func TestEnqueueKeepsTheFirstRowOfAKey(t *testing.T) {
	svc := newScript()
	r := newRig(t, svc)
	r.start()
	r.enqueue("a")
	waitFor(t, "a delivered", func() bool { return r.rows()["a"].State == journal.OutboxDelivered })
	r.enqueue("a")
	r.quiet()
	if n, _ := svc.count(); n != 1 {
		t.Fatalf("a key enqueued twice was sent %d times", n)
	}
}

// TestLanesHoldApart: a rate limit holds only its own lane. Rows of lane
// b go out while lane a waits out its Retry-After, and lane a keeps its
// order when it goes on.
func TestLanesHoldApart(t *testing.T) {
	svc := newScript()
	svc.once = map[string]error{"a1": &Error{Class: RateLimited, Code: "429", RetryAfter: time.Minute, Reason: "HTTP 429"}}
	r := newRig(t, svc)
	r.lane = func(row Row) string { return row.Key[:1] }
	r.start()
	r.enqueue("a1", "a2", "b1", "b2")
	r.quiet()
	st := r.ob.Status()[0]
	if st.State != StateRateLimited || st.Lane != "a" || st.Queued != 2 || !st.RetryAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("status %+v", st)
	}
	if line := st.Line(t0); line != "rate-limited (a), 2 queued, retry in 1m0s: HTTP 429" {
		t.Fatalf("line %q", line)
	}
	rows := r.rows()
	if rows["b1"].State != journal.OutboxDelivered || rows["b2"].State != journal.OutboxDelivered || rows["a2"].State != journal.OutboxPending {
		t.Fatalf("lane b waited for lane a: %+v", rows)
	}
	r.clk.Advance(time.Minute)
	waitFor(t, "lane a to go on", func() bool { n, _ := svc.count(); return n == 5 })
	r.quiet()
	svc.mu.Lock()
	var a []string
	for _, k := range svc.sends {
		if k[0] == 'a' {
			a = append(a, k)
		}
	}
	svc.mu.Unlock()
	if fmt.Sprint(a) != "[a1 a1 a2]" {
		t.Fatalf("lane a sent %v", a)
	}
	if st := r.ob.Status()[0]; st.State != StateOK || st.Queued != 0 || st.Lane != "" || st.Delivered != 4 {
		t.Fatalf("status after %+v", st)
	}
}
