package server

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	prom "github.com/warroom/warroom/sources/prometheus"
	"github.com/warroom/warroom/textsafe"
)

// maxPage bounds one /api/timeline answer; ask again with after=<last seq>.
const maxPage = 1000

// streamWrite bounds one event's write to a timeline stream: a reader
// that stops reading is dropped.
const streamWrite = 10 * time.Second

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{}))
	wh := prom.NewWebhook(s.r.Engine, s.o.Token)
	wh.Config = s.r.Engine.Config()
	wh.Logger = s.o.Logger
	mux.Handle("/api/alertmanager", wh)
	mux.Handle("/api/alertmanager/{source}", wh)
	// PagerDuty signs its webhooks (the subscription's secret), and cannot
	// send our bearer token: the handler verifies the signature instead.
	if pd := s.r.PagerDutyWebhook(s.o.Audit); pd != nil {
		mux.Handle("/api/pagerduty", pd)
	} else {
		mux.HandleFunc("/api/pagerduty", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "this war room does not page through PagerDuty (no routing key in the file)", http.StatusNotFound)
		})
	}
	mux.HandleFunc("GET /api/timeline", s.auth(s.timeline))
	mux.HandleFunc("GET /api/timeline/stream", s.auth(s.stream))
	return mux
}

// maxStandbyLag is how far behind the leader's log a standby may be and
// still say it is healthy.
const maxStandbyLag = 30 * time.Second

// healthz says whether the room answers. In a shared room it names this
// process's role: "ok leader node=a term=3 seq=812", or "ok standby
// node=b leader=a lag=0s seq=812"; a standby with no leader, far behind,
// or a leader stepping down is 503. With ?role=leader only the leader
// answers 200, for a load balancer that sends webhooks to the leader
// (standbys forward them as well).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	c := s.r.Engine.Cluster()
	if r.URL.Query().Get("role") == "leader" && c.Shared() && c.Role != incident.RoleLeader {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not the leader: %s node=%s leader=%s\n", c.Role, textsafe.Line(c.Node), textsafe.Line(c.Leader))
		return
	}
	select {
	case <-s.r.Done():
		w.WriteHeader(http.StatusServiceUnavailable)
		msg := "engine stopped"
		if err := s.r.Engine.Err(); err != nil {
			msg += ": " + err.Error()
		}
		fmt.Fprintln(w, msg)
	default:
		if h := s.r.Journal.Health(); !h.OK() {
			// Degraded: the room answers, but its journal is short of
			// space or failing; whoever watches /healthz must act.
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "degraded seq=%d storage=%s: %s\n", s.r.Journal.LastSeq(), h.State, textsafe.Line(h.Reason))
			return
		}
		if !c.Shared() {
			fmt.Fprintf(w, "ok seq=%d\n", s.r.Journal.LastSeq())
			return
		}
		seq := s.r.Engine.Applied()
		switch {
		case c.Role == incident.RoleLeader:
			fmt.Fprintf(w, "ok leader node=%s term=%d seq=%d\n", textsafe.Line(c.Node), c.Term, seq)
		case c.Role == incident.RoleStandby && c.Problem != "":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "degraded standby node=%s seq=%d: %s\n", textsafe.Line(c.Node), seq, textsafe.Line(c.Problem))
		case c.Role == incident.RoleStandby && c.Leader != "" && c.Lag < maxStandbyLag:
			fmt.Fprintf(w, "ok standby node=%s leader=%s lag=%s seq=%d\n", textsafe.Line(c.Node), textsafe.Line(c.Leader), c.Lag, seq)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			leader := c.Leader
			if leader == "" {
				leader = "none"
			}
			fmt.Fprintf(w, "degraded %s node=%s leader=%s lag=%s seq=%d\n", c.Role, textsafe.Line(c.Node), textsafe.Line(leader), c.Lag, seq)
		}
	}
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.o.Token == "" {
			http.NotFound(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.o.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="warroom"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func parseSeq(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad sequence number %q", v)
	}
	return n, nil
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	after, err := parseSeq(r.URL.Query().Get("after"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	evs := []incident.Event{}
	upto := min(s.r.Journal.LastSeq(), after+maxPage)
	if upto > after {
		err = s.r.Journal.ReplayRange(r.Context(), after, upto, func(je journal.Event) error {
			ev, err := incident.FromJournal(je)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
			return nil
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	b, err := json.Marshal(evs)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(textsafe.EscapeJSON(b), '\n'))
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	after, err := parseSeq(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc := http.NewResponseController(w)
	// A stream outlives the server's read and write timeouts: no read
	// deadline, and a write deadline per event instead of one for the
	// whole answer.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(streamWrite))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	_ = s.r.FollowEvents(r.Context(), after, func(ev incident.Event) error {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_ = rc.SetWriteDeadline(time.Now().Add(streamWrite))
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", ev.Seq, textsafe.EscapeJSON(b)); err != nil {
			return err
		}
		return rc.Flush()
	})
}
