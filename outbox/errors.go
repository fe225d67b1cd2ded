package outbox

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Class is what a service's answer to one request means for the effect.
type Class int

const (
	// RateLimited: not applied; the destination waits out RetryAfter (or
	// Destination.DefaultRetryAfter), then sends again.
	RateLimited Class = iota + 1
	// Retryable: not applied (a 503, a connection that never carried the
	// request); the destination backs off and sends again.
	Retryable
	// Uncertain: the request may have been applied (its answer was lost,
	// or the service failed while handling it). The service is asked
	// (Sender.Check) before anything is sent again.
	Uncertain
	// Refused: the service refused this effect (a validation error); it
	// fails, and the destination goes on with the next one.
	Refused
	// Fatal: only a person can fix it (credentials, a wrong page or
	// account). The destination stops with the reason, keeping its queue,
	// until Resume or a restart.
	Fatal
)

// Sentinel errors, one per class: errors.Is(err, ErrFatal) for an *Error
// of class Fatal, and so on.
var (
	ErrRateLimited = errors.New("outbox: rate-limited")
	ErrRetryable   = errors.New("outbox: failed, retrying")
	ErrUncertain   = errors.New("outbox: answer lost")
	ErrRefused     = errors.New("outbox: refused")
	ErrFatal       = errors.New("outbox: destination refuses us")
)

func (c Class) String() string {
	switch c {
	case RateLimited:
		return "rate-limited"
	case Retryable:
		return "retryable"
	case Uncertain:
		return "uncertain"
	case Refused:
		return "refused"
	case Fatal:
		return "fatal"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

func (c Class) sentinel() error {
	switch c {
	case RateLimited:
		return ErrRateLimited
	case Retryable:
		return ErrRetryable
	case Uncertain:
		return ErrUncertain
	case Refused:
		return ErrRefused
	case Fatal:
		return ErrFatal
	}
	return nil
}

// Error is a service's answer, classified. It unwraps to its class's
// sentinel.
type Error struct {
	Class      Class
	Code       string        // the service's code, "HTTP 503", or a network failure
	RetryAfter time.Duration // RateLimited: how long the destination waits (0: its default)
	Reason     string        // for people: status bars, DELIVERY events
}

func (e *Error) Error() string { return e.Reason }
func (e *Error) Unwrap() error { return e.Class.sentinel() }

// classify returns err as an *Error; an error a sender did not classify
// is Uncertain (the effect may have happened).
func classify(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Class: Uncertain, Code: "error", Reason: err.Error()}
}

// Transport classifies a failed HTTP round trip made with a client from
// NewHTTPClient: Retryable when the request never left (connection
// refused, DNS), Uncertain when it was written and no answer came.
func Transport(err error) *Error {
	var te *transportError
	class := netClass(err)
	if errors.As(err, &te) && !te.sent {
		return &Error{Class: Retryable, Code: class, Reason: "unreachable (" + class + ")"}
	}
	return &Error{Class: Uncertain, Code: class, Reason: "answer lost (" + class + ")"}
}

// RetryAfter reads a Retry-After header: seconds or an HTTP date (0 when
// absent or unreadable).
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// transportError is a round trip that got no HTTP answer; sent says
// whether the request had been written (the service may have applied it).
type transportError struct {
	sent bool
	err  error
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

type tracing struct{ c *http.Client }

func (t tracing) RoundTrip(req *http.Request) (*http.Response, error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	resp, err := t.c.Transport.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		return nil, &transportError{sent: wrote.Load(), err: err}
	}
	return resp, nil
}

// DefaultTimeout bounds each request to a destination (Slack, PagerDuty,
// Statuspage) unless the caller says otherwise.
const DefaultTimeout = 10 * time.Second

// NewHTTPClient returns a client whose failures tell "the request never
// left" from "the answer was lost" (see Transport). timeout bounds each
// request (0: DefaultTimeout).
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	return &http.Client{Transport: tracing{base}, Timeout: timeout}
}

func netClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "DNS lookup failed"
	}
	return "network error"
}
