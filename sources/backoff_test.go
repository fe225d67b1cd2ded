package sources

import (
	"math"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

func TestFullJitterBounds(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: 60 * time.Second, Rand: rand.New(rand.NewPCG(1, 2)).Float64}
	for n := 1; n <= 80; n++ {
		want := time.Second << min(n-1, 20)
		if want > 60*time.Second {
			want = 60 * time.Second
		}
		var hi time.Duration
		for range 2000 {
			d := b.FullJitter(n)
			if d < 0 || d >= want {
				t.Fatalf("n=%d: %s outside [0, %s)", n, d, want)
			}
			hi = max(hi, d)
		}
		// Full jitter spreads over the whole range, not just its top.
		if hi < want*9/10 {
			t.Fatalf("n=%d: max of 2000 draws %s is far below the bound %s", n, hi, want)
		}
	}
	// The edges of Rand map to the edges of the range.
	lo := Backoff{Rand: func() float64 { return 0 }}
	top := Backoff{Rand: func() float64 { return 0.9999999 }}
	if d := lo.FullJitter(5); d != 0 {
		t.Fatalf("rand 0: %s", d)
	}
	if d := top.FullJitter(3); d < 3999*time.Millisecond || d >= 4*time.Second {
		t.Fatalf("n=3 top: %s, want just under 4s", d)
	}
	if d := top.FullJitter(1000); d < 59*time.Second || d >= MaxBackoff {
		t.Fatalf("n=1000 top: %s, want just under the 60s cap", d)
	}
}

func TestNextDelayPolicy(t *testing.T) {
	top := Backoff{Rand: func() float64 { return 0.9999999 }}
	iv := 15 * time.Second

	// Transient: full jitter, but never later than one interval.
	if d := top.Next(1, &Error{Class: Transient}, iv); d >= time.Second {
		t.Fatalf("first transient retry %s, want < 1s", d)
	}
	if d := top.Next(10, &Error{Class: Transient}, iv); d != iv {
		t.Fatalf("10th transient retry %s, want capped at the interval %s", d, iv)
	}
	if d := top.Next(10, &Error{Class: Transient}, 5*time.Minute); d >= MaxBackoff || d < 59*time.Second {
		t.Fatalf("long interval: %s, want the 60s cap", d)
	}
	// A Retry-After on a 503 is a floor.
	if d := top.Next(1, &Error{Class: Transient, RetryAfter: 7 * time.Second}, iv); d != 7*time.Second {
		t.Fatalf("503 with Retry-After 7s: %s", d)
	}

	// Rate limited: exactly the reset, however long, and for every n.
	for _, ra := range []time.Duration{time.Second, 30 * time.Second, 1800 * time.Second} {
		for n := 1; n < 20; n++ {
			if d := top.Next(n, &Error{Class: RateLimited, RetryAfter: ra}, iv); d != ra {
				t.Fatalf("429 Retry-After %s (n=%d): waited %s", ra, n, d)
			}
		}
	}
	// Without headers: at least one interval.
	lo := Backoff{Rand: func() float64 { return 0 }}
	if d := lo.Next(3, &Error{Class: RateLimited}, iv); d != iv {
		t.Fatalf("429 without headers: %s, want %s", d, iv)
	}
	if d := top.Next(30, &Error{Class: RateLimited}, iv); d > iv+MaxBackoff {
		t.Fatalf("429 without headers: %s above interval+cap", d)
	}

	// Permanent: at most once a minute.
	if d := lo.Next(1, &Error{Class: Permanent}, iv); d != MaxBackoff {
		t.Fatalf("permanent: %s", d)
	}
	if d := lo.Next(1, &Error{Class: Permanent}, 2*time.Minute); d != 2*time.Minute {
		t.Fatalf("permanent, long interval: %s", d)
	}
}

func TestRetryAfterAndRateLimitHeaders(t *testing.T) {
	now := time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)
	h := http.Header{}
	if d := RetryAfter(h, now); d != 0 {
		t.Fatalf("absent: %s", d)
	}
	h.Set("Retry-After", "30")
	if d := RetryAfter(h, now); d != 30*time.Second {
		t.Fatalf("seconds: %s", d)
	}
	h.Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
	if d := RetryAfter(h, now); d != 90*time.Second {
		t.Fatalf("HTTP date: %s", d)
	}
	for _, bad := range []string{"soon", "-5", "NaN", "Inf"} {
		h.Set("Retry-After", bad)
		if d := RetryAfter(h, now); d != 0 {
			t.Fatalf("%q: %s", bad, d)
		}
	}

	dd := http.Header{}
	dd.Set("X-RateLimit-Limit", "1600")
	dd.Set("X-RateLimit-Period", "3600")
	dd.Set("X-RateLimit-Remaining", "0")
	dd.Set("X-RateLimit-Reset", "1733")
	dd.Set("X-RateLimit-Name", "query_timeseries")
	rl, ok := ParseRateLimit(dd)
	if !ok || rl.Limit != 1600 || rl.Period != time.Hour || rl.Remaining != 0 || rl.Reset != 1733*time.Second || rl.Name != "query_timeseries" {
		t.Fatalf("rate limit headers: %+v %v", rl, ok)
	}

	// A 429 waits for the reset (the longer of the two headers).
	e := StatusError(429, dd, now, "")
	if e.Class != RateLimited || e.RetryAfter != 1733*time.Second {
		t.Fatalf("429: %+v", e)
	}
	// X-RateLimit-Reset is on every Datadog answer: on a 500 it is no wait.
	e = StatusError(500, dd, now, "")
	if e.Class != Transient || e.RetryAfter != 0 {
		t.Fatalf("500: %+v", e)
	}
	h = http.Header{}
	h.Set("Retry-After", "12")
	if e := StatusError(503, h, now, ""); e.Class != Transient || e.RetryAfter != 12*time.Second {
		t.Fatalf("503: %+v", e)
	}
	for _, code := range []int{400, 401, 403, 404, 422} {
		if e := StatusError(code, nil, now, ""); e.Class != Permanent {
			t.Fatalf("%d: %v", code, e.Class)
		}
	}
}

// TestBudgetPace: the pacing policy's factor, and how a budget reads.
func TestBudgetPace(t *testing.T) {
	h := time.Hour
	cases := []struct {
		rl        RateLimit
		perSecond float64
		want      float64
	}{
		{RateLimit{Limit: 1600, Period: h, Remaining: 1600, Reset: h}, 4.0 / 10, 1.125},      // the example: 4 queries at 10 s
		{RateLimit{Limit: 1600, Period: h, Remaining: 1600, Reset: h}, 4.0 / 30, 1},          // at 30 s it fits
		{RateLimit{Limit: 1600, Period: h, Remaining: 100, Reset: 30 * time.Minute}, 0.4, 9}, // others spent most of it
		{RateLimit{Limit: 1600, Period: h, Remaining: 0, Reset: h}, 0.4, 1},                  // used up: held, not paced
		{RateLimit{Limit: 120, Period: 10 * time.Second, Remaining: 119, Reset: 5 * time.Second}, 0.1, 1},
	}
	for _, c := range cases {
		if got := pace(c.rl, c.perSecond); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%+v at %v/s: pace %v, want %v", c.rl, c.perSecond, got, c.want)
		}
	}
	b := Budget{Bucket: "query", RateLimit: RateLimit{Limit: 1600, Period: h, Remaining: 98, Reset: 30 * time.Minute},
		At: time.Date(2026, 1, 31, 14, 30, 0, 0, time.UTC), Every: 91 * time.Second}
	if s := b.Short(); s != "98/1600 per 1h, every 1m31s" {
		t.Errorf("short %q", s)
	}
	if s := b.String(); s != "the rate limit: 98 of 1600 left until 15:00:00, polling every 1m31s to make it last" {
		t.Errorf("string %q", s)
	}
	b.Name, b.Every, b.Period = "query_timeseries", 0, 10*time.Second
	if s := b.Short(); s != "98/1600 per 10s" || b.Label() != `rate limit "query_timeseries"` {
		t.Errorf("short %q label %q", s, b.Label())
	}
}
