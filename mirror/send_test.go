package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/incident"
)

// TestClassify is the "retry or not" table (cf. Alertmanager's
// notify RetryTests) for every answer the mirror can get.
func TestClassify(t *testing.T) {
	m := &Mirror{o: Options{DefaultRetryAfter: 30 * time.Second}}
	cases := []struct {
		err  error
		want verdict
		ra   time.Duration
	}{
		{nil, vOK, 0},
		{&slack.RateLimitedError{RetryAfter: 3 * time.Second}, vLimited, 3 * time.Second},
		{slack.StatusCodeError{Code: 429, Status: "429 Too Many Requests"}, vLimited, 30 * time.Second},
		{slack.SlackErrorResponse{Err: "ratelimited"}, vLimited, 30 * time.Second},
		{slack.StatusCodeError{Code: 500}, vRetry, 0},
		{slack.StatusCodeError{Code: 502}, vRetry, 0},
		{slack.StatusCodeError{Code: 503}, vRetry, 0},
		{slack.StatusCodeError{Code: 504}, vUncertain, 0},
		{slack.StatusCodeError{Code: 404}, vFatal, 0},
		{slack.StatusCodeError{Code: 403}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "invalid_auth"}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "not_authed"}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "account_inactive"}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "token_revoked"}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "channel_not_found"}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "not_in_channel"}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "is_archived"}, vFatal, 0},
		{slack.SlackErrorResponse{Err: "internal_error"}, vUncertain, 0},
		{slack.SlackErrorResponse{Err: "fatal_error"}, vUncertain, 0},
		{slack.SlackErrorResponse{Err: "service_unavailable"}, vRetry, 0},
		{slack.SlackErrorResponse{Err: "msg_too_long"}, vRejected, 0},
		{slack.SlackErrorResponse{Err: "invalid_blocks"}, vRejected, 0},
		{slack.SlackErrorResponse{Err: "message_not_found"}, vRejected, 0},
		{&transportError{sent: false, err: errors.New("dial tcp: connect: connection refused")}, vRetry, 0},
		{&transportError{sent: true, err: errors.New("EOF")}, vUncertain, 0},
		{fmt.Errorf("unexpected end of JSON input"), vUncertain, 0},
	}
	for _, c := range cases {
		r := m.classify(c.err)
		if r.v != c.want || r.retryAfter != c.ra {
			t.Errorf("%v: got verdict %d retry-after %s, want %d %s", c.err, r.v, r.retryAfter, c.want, c.ra)
		}
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
	p := pacer{rate: 1, burst: 3, tokens: 3}
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
	p.limited(now, 30*time.Second)
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
// from the journal.
func TestLaggingFeedResyncs(t *testing.T) {
	h := newHarness(t, hopts{mirror: func(o *Options) { o.SubscriptionBuffer = 4 }})
	h.drive(time.Minute, h.drained)
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
	h.drive(10*time.Minute, h.drained)
	h.checkTranscript(h.j.LastSeq())
	if h.m.resyncs.Load() == 0 {
		t.Fatal("the feed never lagged: the test did not test resync")
	}
	t.Logf("800 concurrent notes, %d resyncs, slowest engine reply %s", h.m.resyncs.Load(), worst)
}

// TestBacklogWindow: with room for only 50 events in memory, a burst of
// 500 is read from the journal as the mirror drains.
func TestBacklogWindow(t *testing.T) {
	h := newHarness(t, hopts{mirror: func(o *Options) { o.MaxBacklog = 50 }})
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
}
