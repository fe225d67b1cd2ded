package sim

import (
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// BenchmarkSampleNow is the cost of one model evaluation at "now" (what an
// RPC call or an instant query pays), with warm checkpoints.
func BenchmarkSampleNow(b *testing.B) {
	w, fk := newTestWorld(1, 4)
	w.Sample(fk.Now())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Sample(fk.Now().Add(time.Duration(i%60) * time.Second))
	}
}

func benchGet(b *testing.B, u string) {
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}

func startBench(b *testing.B) *Sim {
	s, _ := startTest(b, 1, 6, Options{})
	return s
}

func BenchmarkPromAlerts(b *testing.B) { benchGet(b, startBench(b).PromURL+"/api/v1/alerts") }

func BenchmarkPromQueryRange1h(b *testing.B) {
	s := startBench(b)
	benchGet(b, s.PromURL+"/api/v1/query_range?query="+url.QueryEscape(`sum(pg_stat_activity_count{datname="allium"})`)+
		"&start=1769880000&end=1769882760&step=15")
}

func BenchmarkPromMetricsScrape(b *testing.B) { benchGet(b, startBench(b).PromURL+"/metrics") }

func BenchmarkMonitorGroupSearch(b *testing.B) {
	s := startBench(b)
	req, _ := http.NewRequest("GET", s.DatadogURL+"/api/v1/monitor/groups/search", nil)
	req.Header.Set("DD-API-KEY", "k")
	req.Header.Set("DD-APPLICATION-KEY", "a")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
