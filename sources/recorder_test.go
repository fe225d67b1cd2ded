package sources

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/journal"
)

// TestRecorderKeepsChangePoints: a pane whose value holds still is written
// at its first sample, at the end of each flat run (so a chart drawn from
// the journal keeps its shape), at the keepalive, when it goes STALE and
// when the room stops; NO DATA and history are written as they come.
func TestRecorderKeepsChangePoints(t *testing.T) {
	t0 := time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	v := func(s int, x float64) journal.Sample {
		return journal.Sample{Service: "api", Pane: "p", Time: at(s), Value: x}
	}
	r := newRecorder(nil, nil, nil, 0, 0, 0)
	var got []journal.Sample
	got = r.keep(got, []journal.Sample{v(0, 1), v(5, 1), v(10, 1), v(15, 2), v(20, 2), v(25, 3)})
	got = r.keep(got, []journal.Sample{{Service: "api", Pane: "p", Time: at(30), NoData: true}, {Service: "api", Pane: "p", Time: at(35), NoData: true}})
	got = r.keep(got, []journal.Sample{v(40, 3), v(45, 3), {Service: "api", Pane: "p"}}) // STALE after 45
	got = r.keep(got, []journal.Sample{v(-60, 7)})                                       // history from a backfill
	for s := 50; s <= 50+70; s += 5 {
		got = r.keep(got, []journal.Sample{v(s, 4)}) // flat for 70 s: one keepalive
	}
	got = r.flushHeld(got)
	var b strings.Builder
	for _, s := range got {
		if s.NoData {
			fmt.Fprintf(&b, "%s=nodata ", s.Time.Sub(t0))
		} else {
			fmt.Fprintf(&b, "%s=%g ", s.Time.Sub(t0), s.Value)
		}
	}
	want := "0s=1 10s=1 15s=2 20s=2 25s=3 30s=nodata 35s=nodata 40s=3 45s=3 -1m0s=7 50s=4 1m50s=4 2m0s=4 "
	if b.String() != want {
		t.Fatalf("written:\n %s\nwant\n %s", b.String(), want)
	}
	if n := r.held.Load(); n != 1+11 {
		t.Fatalf("%d repeats counted, want 12", n)
	}
}
