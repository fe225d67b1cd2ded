package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/incident"
)

// TestClassify is the "retry or not" table (cf. Alertmanager's
// notify RetryTests) for every kind of answer the mirror can get.
func TestClassify(t *testing.T) {
	m := &Mirror{o: Options{DefaultRetryAfter: 30 * time.Second}}
	cases := []struct {
		err  error
		want Class
		ra   time.Duration
	}{
		{&slack.RateLimitedError{RetryAfter: 3 * time.Second}, RateLimited, 3 * time.Second},
		{slack.StatusCodeError{Code: 429, Status: "429 Too Many Requests"}, RateLimited, 30 * time.Second},
		{slack.SlackErrorResponse{Err: "ratelimited"}, RateLimited, 30 * time.Second},
		{slack.SlackErrorResponse{Err: "rate_limited"}, RateLimited, 30 * time.Second},
		{slack.SlackErrorResponse{Err: "message_limit_exceeded"}, RateLimited, 30 * time.Second},
		{slack.StatusCodeError{Code: 500}, Retryable, 0},
		{slack.StatusCodeError{Code: 502}, Retryable, 0},
		{slack.StatusCodeError{Code: 503}, Retryable, 0},
		{slack.StatusCodeError{Code: 504}, Uncertain, 0},
		{slack.StatusCodeError{Code: 404}, Fatal, 0},
		{slack.StatusCodeError{Code: 403}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "invalid_auth"}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "not_authed"}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "account_inactive"}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "token_revoked"}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "channel_not_found"}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "not_in_channel"}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "is_archived"}, Fatal, 0},
		{slack.SlackErrorResponse{Err: "internal_error"}, Uncertain, 0},
		{slack.SlackErrorResponse{Err: "fatal_error"}, Uncertain, 0},
		{slack.SlackErrorResponse{Err: "service_unavailable"}, Retryable, 0},
		{slack.SlackErrorResponse{Err: "request_timeout"}, Retryable, 0},
		{slack.SlackErrorResponse{Err: "msg_too_long"}, Content, 0},
		{slack.SlackErrorResponse{Err: "msg_blocks_too_long"}, Content, 0},
		{slack.SlackErrorResponse{Err: "invalid_blocks"}, Content, 0},
		{slack.SlackErrorResponse{Err: "no_text"}, Content, 0},
		{slack.SlackErrorResponse{Err: "a_code_slack_added_later"}, Content, 0},
		{slack.SlackErrorResponse{Err: "message_not_found"}, Gone, 0},
		{&transportError{sent: false, err: errors.New("dial tcp: connect: connection refused")}, Retryable, 0},
		{&transportError{sent: true, err: io.EOF}, Uncertain, 0},
		{fmt.Errorf("unexpected end of JSON input"), Uncertain, 0},
	}
	if m.classify(nil, 0) != nil {
		t.Fatal("a nil error is not delivered")
	}
	for _, c := range cases {
		e := m.classify(c.err, 0)
		if e.Class != c.want || e.RetryAfter != c.ra {
			t.Errorf("%v: got %s retry-after %s, want %s %s", c.err, e.Class, e.RetryAfter, c.want, c.ra)
		}
		if !errors.Is(e, c.want.sentinel()) {
			t.Errorf("%v: errors.Is does not match %v", c.err, c.want.sentinel())
		}
	}
	// A Retry-After sent with an HTTP 200 rate_limited answer is honoured.
	if e := m.classify(slack.SlackErrorResponse{Err: "rate_limited"}, 7*time.Second); e.RetryAfter != 7*time.Second {
		t.Fatalf("rate_limited with Retry-After 7: waits %s", e.RetryAfter)
	}
}

// TestRetryAfterHTTPDate: a Retry-After given as an HTTP date (which
// slack-go cannot parse) still becomes a RateLimitedError.
func TestRetryAfterHTTPDate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(429)
		fmt.Fprint(w, `{"ok":false,"error":"ratelimited"}`)
	}))
	defer srv.Close()
	api := slack.New("xoxb-test-token-123", slack.OptionAPIURL(srv.URL+"/"), slack.OptionHTTPClient(&doer{c: srv.Client()}))
	_, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter < 4*time.Second || rl.RetryAfter > 6*time.Second {
		t.Fatalf("want RateLimitedError ~5s, got %v", err)
	}
}

func TestPacer(t *testing.T) {
	p := newPacer(1, 3)
	now := t0
	for i := 0; i < 3; i++ {
		if w := p.wait(now); w != 0 {
			t.Fatalf("burst %d: wait %s", i, w)
		}
		p.take(now)
	}
	if w := p.wait(now); w < 900*time.Millisecond || w > 1100*time.Millisecond {
		t.Fatalf("after the burst: wait %s, want ~1s", w)
	}
	p.limited(now, &Error{Class: RateLimited, RetryAfter: 30 * time.Second}, "429")
	if w := p.wait(now.Add(10 * time.Second)); w != 20*time.Second {
		t.Fatalf("during Retry-After: wait %s", w)
	}
	if w := p.wait(now.Add(30 * time.Second)); w != 0 {
		t.Fatalf("after Retry-After: wait %s", w)
	}
}

// TestLaggingFeedResyncs: a mirror that is stuck (here: its lock held)
// while 800 events are committed does not slow the engine down; the
// engine drops its feed, and the mirror resubscribes and fills the gap
// from the journal. It runs in real time: in a synctest bubble the
// engine's replies would take no time whatever they waited for, and a
// goroutine waiting for a mutex is never durably blocked.
func TestLaggingFeedResyncs(t *testing.T) {
	eng := &countingEngine{}
	h := newHarness(t, hopts{mirror: func(o *Options) {
		o.SubscriptionBuffer = 4
		eng.Engine = o.Engine
		o.Engine = eng
	}})
	h.autoDrive()
	h.waitFor("the mirror to drain", h.drained)
	h.m.mu.Lock() // the mirror is stuck
	var wg sync.WaitGroup
	var worst time.Duration
	var mu sync.Mutex
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				start := time.Now()
				if r := h.eng.Do(context.Background(), incident.Note{By: "bob", Text: fmt.Sprintf("w%d-%d", w, i)}); r.Err != nil {
					t.Error(r.Err)
					return
				}
				mu.Lock()
				worst = max(worst, time.Since(start))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	h.m.mu.Unlock()
	if worst > time.Second {
		t.Fatalf("the engine waited %s for a stuck mirror", worst)
	}
	// Lag counts every event not yet done, and an event is done once
	// Slack has answered the call that carries it.
	h.waitFor("the mirror to catch up", h.drained)
	h.checkTranscript(h.j.LastSeq())
	resyncs := eng.subscribes.Load() - 1
	if resyncs == 0 {
		t.Fatal("the feed never lagged: the test did not test resync")
	}
	t.Logf("800 concurrent notes, %d resyncs, slowest engine reply %s", resyncs, worst)
}

// countingEngine counts the mirror's subscriptions: after the first, each
// is a resync after the engine dropped a lagging feed.
type countingEngine struct {
	Engine
	subscribes atomic.Int64
}

func (e *countingEngine) Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error) {
	e.subscribes.Add(1)
	return e.Engine.Subscribe(ctx, buffer)
}

// TestBacklogWindow: with room for only 50 events in memory, a burst of
// 500 is read from the journal as the mirror drains.
func TestBacklogWindow(t *testing.T) {
	inBubble(t, hopts{mirror: func(o *Options) { o.MaxBacklog = 50 }}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		for i := 0; i < 500; i++ {
			h.note("bob", fmt.Sprintf("window %d", i))
		}
		h.m.mu.Lock()
		held := len(h.m.outstanding)
		h.m.mu.Unlock()
		if held > 50 {
			t.Fatalf("%d events held in memory, window is 50", held)
		}
		if st := h.m.Status(); st.Lag < 450 {
			t.Fatalf("lag %d, want the whole backlog counted", st.Lag)
		}
		h.drive(30*time.Minute, h.drained)
		h.checkTranscript(h.j.LastSeq())
		if strings.Count(fmt.Sprint(h.srv.Messages(h.srv.ChannelID())), "window") < 500 {
			t.Fatal("not every event was mirrored")
		}
	})
}
