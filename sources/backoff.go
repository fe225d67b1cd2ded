package sources

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff computes how long a query waits after a failed poll.
//
//   - Transient (timeout, connection error, 5xx): full jitter, a uniformly
//     random delay in [0, min(Cap, Base·2^(n-1))) for the n-th consecutive
//     failure, and never more than one interval, so that a source that
//     recovers is fresh again within one interval. A Retry-After sent with
//     the failure (503) is a floor.
//   - RateLimited (429) with Retry-After or X-RateLimit-Reset: exactly that
//     wait (the request goes out at the reset, not before). Without either
//     header: one interval plus full jitter capped at Cap.
//   - Permanent (400, 401, 403, 404, a bad query): max(interval, Cap), or
//     Retry-After if longer: a key or query will not fix itself, and a
//     person watching sees the source down with the reason.
type Backoff struct {
	Base time.Duration // bound of the first retry; default 1 s
	Cap  time.Duration // default 60 s
	// Rand returns a float in [0, 1); default math/rand/v2.
	Rand func() float64
}

// MaxBackoff caps every backoff (not an explicit Retry-After or reset).
const MaxBackoff = 60 * time.Second

func (b Backoff) base() time.Duration {
	if b.Base > 0 {
		return b.Base
	}
	return time.Second
}

func (b Backoff) cap() time.Duration {
	if b.Cap > 0 {
		return b.Cap
	}
	return MaxBackoff
}

func (b Backoff) rand() float64 {
	if b.Rand != nil {
		return b.Rand()
	}
	return rand.Float64()
}

// bound is min(cap, base·2^(n-1)) without overflow.
func bound(base, cp time.Duration, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 62 {
		return cp
	}
	f := float64(base) * math.Exp2(float64(n-1))
	if f >= float64(cp) {
		return cp
	}
	return time.Duration(f)
}

// FullJitter returns a uniformly random delay in [0, min(Cap, Base·2^(n-1)))
// for the n-th consecutive failure (n ≥ 1).
func (b Backoff) FullJitter(n int) time.Duration {
	return time.Duration(b.rand() * float64(bound(b.base(), b.cap(), n)))
}

// Next is the delay after the n-th consecutive failure e of a query polled
// every interval.
func (b Backoff) Next(n int, e *Error, interval time.Duration) time.Duration {
	switch e.Class {
	case RateLimited:
		if e.RetryAfter > 0 {
			return e.RetryAfter
		}
		return interval + time.Duration(b.rand()*float64(bound(interval, b.cap(), n)))
	case Permanent:
		return max(interval, b.cap(), e.RetryAfter)
	default:
		return max(min(interval, b.FullJitter(n)), e.RetryAfter)
	}
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (relative to now). 0 when absent or unparsable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || math.IsNaN(s) || math.IsInf(s, 0) {
			return 0
		}
		return secondsCeil(s)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// RateLimit is Datadog's X-RateLimit-* headers (the names are
// case-insensitive: recorded answers send them lower-case).
type RateLimit struct {
	Limit     int
	Period    time.Duration
	Remaining int
	// Reset is the time until the current period ends (the header is
	// seconds until the reset, not an epoch).
	Reset time.Duration
	Name  string
}

// ParseRateLimit reads X-RateLimit-{Limit,Period,Remaining,Reset,Name}. ok
// is false when Remaining or Reset is missing.
func ParseRateLimit(h http.Header) (rl RateLimit, ok bool) {
	num := func(k string) (float64, bool) {
		v := strings.TrimSpace(h.Get(k))
		if v == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, false
		}
		return f, true
	}
	rem, okRem := num("X-RateLimit-Remaining")
	reset, okReset := num("X-RateLimit-Reset")
	if !okRem || !okReset {
		return RateLimit{}, false
	}
	lim, _ := num("X-RateLimit-Limit")
	per, _ := num("X-RateLimit-Period")
	return RateLimit{Limit: int(lim), Period: secondsCeil(per), Remaining: int(rem),
		Reset: secondsCeil(reset), Name: h.Get("X-RateLimit-Name")}, true
}

// Label names the bucket for people: its X-RateLimit-Name, or "the rate
// limit" when the answer sent none (Datadog's recorded answers do not).
func (rl RateLimit) Label() string {
	if rl.Name == "" {
		return "the rate limit"
	}
	return "rate limit " + strconv.Quote(rl.Name)
}

func secondsCeil(s float64) time.Duration {
	if s > 1e9 {
		s = 1e9
	}
	return time.Duration(math.Ceil(s * float64(time.Second)))
}
