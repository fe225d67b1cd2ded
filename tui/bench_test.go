package tui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// bench40 is a war room of 40 panes (40 services of one pane each, full
// 240-point histories, a quarter of them alerting).
func bench40() *fakeEngine {
	cfg := fixtureConfig()
	cfg.Services = nil
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("svc%02d", i)
		cfg.Services = append(cfg.Services, config.Service{ID: id, Name: fmt.Sprintf("Service %02d", i), Owner: "tomas",
			Panes: []config.Pane{{ID: "p95", Title: "p95 latency", Source: "prom", Query: "q", Unit: "s", Warn: fp(0.5), Crit: fp(1)}}})
	}
	b := &stateBuilder{st: incident.NewState(), cfg: cfg}
	setup := roles.FromConfig(cfg)
	b.emit(tOpen, incident.Event{Kind: incident.KindDeclare, Actor: "warroom", Text: cfg.Incident.Name, Setup: &setup})
	for i, s := range cfg.Services {
		b.series(s.ID, "p95", tNow, incident.SeriesLimit, 5*time.Second, ramp(0.1, 0.2+float64(i)*0.03))
		if i%4 == 0 {
			b.fire(tNow.Add(-time.Duration(i)*time.Minute), s.ID, "p95", incident.LevelCrit, "p95 latency 1.2s > 1s (crit)", 1.2, 1, "s")
		}
	}
	return &fakeEngine{cfg: cfg, roster: roles.NewRoster(cfg.Roster), clk: newFakeEngine().clk, st: b.st, feed: make(chan incident.Update, 1)}
}

// benchView measures a full render: the view, cell and chart caches are
// dropped each time, as when every pane got a new sample.
func benchView(b *testing.B, f *fakeEngine, w, h int, setup ...string) {
	m := newTestModel(b, f, "tomas", w, h)
	press(m, setup...)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.invalidate()
		m.charts = chartCache{}
		m.cells = nil
		_ = m.View()
	}
}

// BenchmarkView40Panes renders the overview of 40 panes at 200×60 from
// scratch (no cached charts).
func BenchmarkView40Panes(b *testing.B) { benchView(b, bench40(), 200, 60) }

// BenchmarkView40PanesTick is the 1 s tick: ages and the clock change,
// the charts come from the chart cache.
func BenchmarkView40PanesTick(b *testing.B) {
	m := newTestModel(b, bench40(), "tomas", 200, 60)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Update(tickMsg{now: tNow.Add(time.Duration(i) * time.Second)})
		_ = m.View()
	}
}

// BenchmarkView40PanesTrueColor is the same in full colour.
func BenchmarkView40PanesTrueColor(b *testing.B) {
	f := bench40()
	m := New(Options{Engine: f, Handle: "tomas", Width: 200, Height: 60, Profile: colorprofile.TrueColor, NoTick: true})
	st, sub, _ := f.Subscribe(context.Background(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.invalidate()
		m.charts = chartCache{}
		m.cells = nil
		_ = m.View()
	}
}

// BenchmarkViewFixture renders each view of the 8-service room at 200×60.
func BenchmarkViewFixture(b *testing.B) {
	for _, v := range []struct{ name, key string }{{"overview", "1"}, {"detail", "enter"}, {"alerts", "2"}, {"timeline", "3"}, {"roles", "4"}} {
		b.Run(v.name, func(b *testing.B) { benchView(b, newFakeEngine(), 200, 60, v.key) })
	}
}

// BenchmarkViewCached is View() when nothing changed (a stray message).
func BenchmarkViewCached(b *testing.B) {
	m := newTestModel(b, bench40(), "tomas", 200, 60)
	_ = m.View()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = m.View()
	}
}

// BenchmarkDetailExpected renders the tokens detail view at 120×40 from
// scratch, the live series alone and with the baseline band, the
// expected curve and their legend.
func BenchmarkDetailExpected(b *testing.B) {
	for _, c := range []struct {
		name   string
		curves bool
	}{{"live", false}, {"baseline+expected", true}} {
		b.Run(c.name, func(b *testing.B) {
			f, _ := expectedFixture(c.curves)
			benchView(b, f, 120, 40, "1", "enter")
		})
	}
}
