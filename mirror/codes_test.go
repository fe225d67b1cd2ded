package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/journal"
	slacksim "github.com/warroom/warroom/sim/slack"
)

// The codes each test scripts: every rate limit, retryable, content and
// fatal code the issue names, all documented by Slack for chat.postMessage.
var (
	rateLimitCodes = []string{"ratelimited", "rate_limited", "message_limit_exceeded"}
	retryCodes     = []string{"request_timeout", "fatal_error", "internal_error", "service_unavailable"}
	contentCodes   = []string{"msg_too_long", "msg_blocks_too_long", "invalid_blocks", "no_text"}
	fatalCodes     = []string{"invalid_auth", "channel_not_found", "not_in_channel", "is_archived", "account_inactive", "token_revoked"}
)

// TestEveryDocumentedCodeIsClassified: every error code Slack documents
// for the methods the mirror calls (the fake's lists, from Slack's OpenAPI
// spec and docs.slack.dev) has a class; none falls to the default.
func TestEveryDocumentedCodeIsClassified(t *testing.T) {
	n := 0
	for _, method := range []string{"chat.postMessage", "chat.update", "conversations.history", "auth.test", "chat.postEphemeral"} {
		for _, c := range append(append([]string(nil), slacksim.MethodErrors[method]...), slacksim.CommonErrors...) {
			n++
			if _, ok := slackCodes[c]; !ok {
				t.Errorf("%s: Slack documents %q, the mirror does not classify it", method, c)
			}
		}
	}
	for _, group := range [][]string{rateLimitCodes, retryCodes, contentCodes, fatalCodes} {
		for _, c := range group {
			if !slacksim.Documented("chat.postMessage", c) {
				t.Errorf("%s is not documented for chat.postMessage", c)
			}
		}
	}
	t.Logf("%d documented (method, code) pairs classified", n)
}

// postsAfter lists the chat.postMessage calls at or after from.
func (h *harness) posts(method string) []slacksim.Request {
	var out []slacksim.Request
	for _, r := range h.srv.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// TestRateLimitCodesWaitThenDeliver: ratelimited (HTTP 429 with
// Retry-After), rate_limited and message_limit_exceeded (HTTP 200 bodies,
// no header) are waited out on chat.postMessage, then the message is
// delivered once. The same on chat.update: the alert's message is updated
// after the wait, while posts go on (another lane).
func TestRateLimitCodesWaitThenDeliver(t *testing.T) {
	for _, code := range rateLimitCodes {
		t.Run(code, func(t *testing.T) {
			inBubble(t, hopts{sim: slacksim.Options{DefaultRetryAfter: 20 * time.Second}}, func(t *testing.T, h *harness) {
				h.drive(time.Minute, h.drained)
				h.srv.FailNext("chat.postMessage", code)
				h.note("alice", "after a rate limit")
				h.drive(5*time.Minute, h.drained)
				if n := len(h.find("after a rate limit")); n != 1 {
					t.Fatalf("delivered %d times", n)
				}
				want := 30 * time.Second // the mirror's default: no Retry-After came
				if code == "ratelimited" {
					want = 20 * time.Second // Slack's Retry-After
				}
				ps := h.posts("chat.postMessage")
				refused := ps[len(ps)-2]
				if refused.Error != code || ps[len(ps)-1].Time.Sub(refused.Time) < want {
					t.Fatalf("refused %+v, sent again at +%s; want a wait of %s", refused, ps[len(ps)-1].Time.Sub(refused.Time), want)
				}
				h.noViolations()
				if st := h.m.Status(); st.State != StateOK || st.Lag != 0 {
					t.Fatalf("status %+v", st)
				}
			})
		})
	}
	t.Run("chat.update rate_limited", func(t *testing.T) {
		inBubble(t, hopts{}, func(t *testing.T, h *harness) {
			h.drive(time.Minute, h.drained)
			id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "NAT port allocation errors")).Events[0].Alert.ID
			h.drive(time.Minute, h.drained)
			h.srv.FailNext("chat.update", "rate_limited")
			h.do(incident.Ack{By: "alice", AlertID: id})
			h.drive(5*time.Second, func() bool { return len(h.posts("chat.update")) == 1 })
			h.waitFor("the rate limit noted", func() bool { return h.m.Status().State == StateRateLimited })
			if st := h.m.Status(); st.State != StateRateLimited || !errors.Is(st.Cause, ErrRateLimited) || !strings.Contains(st.Err, "chat.update") {
				t.Fatalf("status during the wait: %+v", st)
			}
			h.note("bob", "posts go on while chat.update waits")
			h.waitFor("the note, posted during the wait", func() bool { return len(h.find("posts go on")) == 1 })
			h.drive(5*time.Minute, h.drained)
			a := h.find("`" + id + "`")
			if len(a) != 1 || !strings.Contains(a[0].Text, "acked by alice") || hasButton(a[0]) {
				t.Fatalf("alert message after the wait: %+v", a)
			}
			ups := h.posts("chat.update")
			note := h.find("posts go on")
			if len(ups) != 2 || ups[1].Time.Sub(ups[0].Time) < 30*time.Second || len(note) != 1 || !note[0].Posted.Before(ups[1].Time) {
				t.Fatalf("updates %+v, note %+v", ups, note)
			}
			h.checkTranscript(h.j.LastSeq())
		})
	})
}

// TestRetryableCodesDeliver: a post answered service_unavailable or
// request_timeout (not applied) is sent again after a backoff; one
// answered internal_error or fatal_error (Slack: "some aspect of the
// operation" may have succeeded) is looked for in the history first, then
// posted again. Each is delivered once.
func TestRetryableCodesDeliver(t *testing.T) {
	for _, code := range retryCodes {
		t.Run(code, func(t *testing.T) {
			inBubble(t, hopts{}, func(t *testing.T, h *harness) {
				h.drive(time.Minute, h.drained)
				h.srv.FailNext("chat.postMessage", code)
				h.note("alice", "after a failure")
				h.drive(5*time.Minute, h.drained)
				if n := len(h.find("after a failure")); n != 1 {
					t.Fatalf("delivered %d times", n)
				}
				checked := len(h.posts("conversations.history")) > 0
				if uncertain := code == "internal_error" || code == "fatal_error"; checked != uncertain {
					t.Fatalf("history checked: %v", checked)
				}
				h.checkTranscript(h.j.LastSeq())
			})
		})
	}
}

// TestContentCodesDegradeThroughThePacer: an alert whose post Slack
// refuses for its content is sent again without blocks; a short note
// (nothing to cut) arrives as a one-line stub naming its event. Each
// re-send waits for the pacer (here one post a second, no burst). When
// even the stub is refused, Slack refuses everything: the mirror stops
// with the code, and after Resume the note is delivered in full.
func TestContentCodesDegradeThroughThePacer(t *testing.T) {
	for _, code := range contentCodes {
		t.Run(code, func(t *testing.T) {
			inBubble(t, hopts{mirror: func(o *Options) { o.Burst = 1 }}, func(t *testing.T, h *harness) {
				h.drive(time.Minute, h.drained)
				h.srv.FailNext("chat.postMessage", code)
				id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, "RPC lag")).Events[0].Alert.ID
				h.drive(time.Minute, h.drained)
				a := h.find("`" + id + "`")
				if len(a) != 1 || len(a[0].Blocks) != 0 || !strings.Contains(a[0].Text, "*CRIT*") {
					t.Fatalf("alert not posted plainly: %+v", a)
				}
				// A short note cannot be cut: refused, it goes as a stub.
				h.srv.FailNext("chat.postMessage", code)
				n := h.note("alice", "refused once")
				h.drive(time.Minute, h.drained)
				stub := h.find(fmt.Sprintf("`#%d`", n))
				if len(stub) != 1 || !strings.Contains(stub[0].Text, "Slack refused this message: "+code) || strings.Contains(stub[0].Text, "refused once") {
					t.Fatalf("stub: %+v", stub)
				}
				ps := h.posts("chat.postMessage")
				for i := 1; i < len(ps); i++ {
					if gap := ps[i].Time.Sub(ps[i-1].Time); gap < 900*time.Millisecond {
						t.Fatalf("posts %d and %d %s apart: a re-send skipped the pacer", i-1, i, gap)
					}
				}
				rows, _ := h.j.SlackMessages(context.Background())
				found := false
				for _, r := range rows {
					if r.Seq == n {
						found = r.State == journal.SlackDelivered && r.Error == code
					}
				}
				if !found {
					t.Fatalf("no delivered stub row for #%d: %+v", n, rows)
				}
				// Even the stub refused.
				h.srv.FailNext("chat.postMessage", code, code)
				h.note("alice", "refused twice")
				h.drive(time.Minute, func() bool { return h.m.Status().State == StateStopped })
				if st := h.m.Status(); !errors.Is(st.Cause, ErrFatal) || !strings.Contains(st.Err, code) {
					t.Fatalf("status: %+v", st)
				}
				h.m.Resume()
				h.drive(time.Minute, h.drained)
				if len(h.find("refused twice")) != 1 {
					t.Fatal("not delivered after Resume")
				}
				h.checkTranscript(h.j.LastSeq())
			})
		})
	}
}

// TestFatalCodesStopAndKeepEverything: a fatal answer stops the mirror
// with the reason (status, Cause, a MIRROR event) and nothing is lost:
// after Resume every queued event is delivered.
func TestFatalCodesStopAndKeepEverything(t *testing.T) {
	for _, code := range fatalCodes {
		t.Run(code, func(t *testing.T) {
			inBubble(t, hopts{}, func(t *testing.T, h *harness) {
				h.drive(time.Minute, h.drained)
				h.srv.FailNext("chat.postMessage", code)
				h.note("alice", "queued by the stop")
				h.drive(time.Minute, func() bool { return h.m.Status().State == StateStopped })
				st := h.m.Status()
				var e *Error
				if !errors.Is(st.Cause, ErrFatal) || !errors.As(st.Cause, &e) || e.Code != code || !strings.Contains(st.Err, code) {
					t.Fatalf("status does not say why: %+v", st)
				}
				h.waitFor("MIRROR event", func() bool {
					for _, ev := range h.events() {
						if ev.Kind == incident.KindMirror && strings.HasPrefix(ev.Text, "Slack mirror stopped: "+code) {
							return true
						}
					}
					return false
				})
				h.note("alice", "also queued")
				h.m.Resume()
				h.drive(5*time.Minute, h.drained)
				for _, s := range []string{"queued by the stop", "also queued", "Slack mirror stopped: " + code} {
					if len(h.find(s)) != 1 {
						t.Fatalf("%q not delivered once after Resume", s)
					}
				}
				h.checkTranscript(h.j.LastSeq())
			})
		})
	}
}

// TestMixedCodesLoseNothing: one run where Slack answers every code above
// in turn, on posts and updates, while notes and alerts keep coming. Every
// event ends up in Slack exactly once (no reply was lost), in order, and
// no call went out before a Retry-After.
func TestMixedCodesLoseNothing(t *testing.T) {
	inBubble(t, hopts{}, func(t *testing.T, h *harness) {
		h.drive(time.Minute, h.drained)
		var script []string
		for i := 0; i < 4; i++ {
			script = append(script, rateLimitCodes[i%3], retryCodes[i], contentCodes[i])
		}
		var open []string
		refusals := len(script) + len(fatalCodes)
		for i, code := range script {
			h.srv.FailNext("chat.postMessage", code)
			if i%3 == 0 {
				id := h.do(incidenttest.Firing("tokens", incident.LevelCrit, fmt.Sprintf("alert %d", i))).Events[0].Alert.ID
				open = append(open, id)
			} else {
				h.note("bob", fmt.Sprintf("note %d (%s)", i, code))
			}
			if i%4 == 3 && len(open) > 0 {
				h.srv.FailNext("chat.update", rateLimitCodes[1])
				refusals++
				h.do(incident.Ack{By: "alice", AlertID: open[0]})
				open = open[1:]
			}
			h.drive(10*time.Minute, h.drained)
		}
		for _, code := range fatalCodes {
			h.srv.FailNext("chat.postMessage", code)
			h.note("bob", "before a stop: "+code)
			h.drive(time.Minute, func() bool { return h.m.Status().State == StateStopped })
			h.note("bob", "during the stop: "+code)
			h.m.Resume()
			h.drive(10*time.Minute, h.drained)
		}
		last := h.j.LastSeq()
		counts := h.checkTranscript(last)
		for s, n := range counts {
			if n != 1 {
				t.Fatalf("event #%d appears %d times", s, n)
			}
		}
		h.noViolations()
		t.Logf("%d events through %d scripted refusals: 0 lost, 0 duplicated", last, refusals)
	})
}
