// Package statuspage is a faithful fake of the Atlassian Statuspage REST
// API (v1), for the comms publisher's tests and `warroom demo`. It listens
// on loopback only. What it models, and where each behaviour is
// documented:
//
//   - Base URL {URL}/v1, pages by id, the API key in an "Authorization:
//     OAuth <key>" header or an api_key query parameter; without a valid
//     key HTTP 401 (the reference's securitySchemes and its "Could not
//     authenticate" response). Statuspage's OpenAPI document is the
//     reference throughout: developer.statuspage.io, as published in
//     sbecker59/statuspage-api-client-go api/v1/statuspage/api/openapi.yaml.
//   - Error bodies are the reference's ErrorEntity, {"message": "…"}, with
//     the messages its responses describe (401 "Could not authenticate",
//     404 "The requested resource could not be found.", 422 "Unprocessable
//     entity: …", 400 "Bad request: …").
//   - Rate limits: "Each API token is limited to 1 request / second as
//     measured on a 60 second rolling window" (the reference's
//     introduction): 60 requests in any 60 s per key. Over it, HTTP 420 by
//     default and 429 with Options.RateLimitStatus (Statuspage announced a
//     move from 420 to 429, then kept 420 for existing integrations:
//     community.atlassian.com "Upcoming rate limiting changes to
//     Statuspage REST API", 2020, and its staff reply of 2021), always
//     with a Retry-After in seconds (same announcement).
//   - Incidents: POST /pages/{page_id}/incidents with {"incident": {...}}
//     (name required, at most 255 characters; body at most 25,000; status
//     investigating|identified|monitoring|resolved; impact_override;
//     components as a map of component id → status; component_ids;
//     deliver_notifications, default true; metadata, whose top-level values
//     must be objects) answers 201 with the Incident. The body becomes the
//     first incident update. PATCH /pages/{page_id}/incidents/{id} answers
//     200; a PATCH that carries a body or a status adds an incident update.
//     Incident updates carry affected_components [{code, name, old_status,
//     new_status}], null when none changed, and deliver_notifications.
//     monitoring_at and resolved_at are set on those statuses. GET of one
//     incident, of the list (newest first; q searches name, status and
//     updates' bodies; limit at most 100, page from 1) and of
//     /incidents/unresolved.
//   - The incident's impact is computed from its components (degraded
//     performance → minor, partial outage → major, major outage →
//     critical) unless impact_override says otherwise.
//   - Components: GET /pages/{page_id}/components (paginated: per_page
//     at most 100, its default, and page from 1, "Beginning February 28,
//     2023"), GET and PATCH
//     /pages/{page_id}/components/{id} with {"component": {"status"}} (the
//     five statuses). An incident's component statuses change the
//     components too.
//   - Ids are 12 lowercase letters and digits; times are RFC 3339 with
//     milliseconds (recorded incidents: "2019-02-20T13:40:58.572-06:00",
//     in the page's zone; UTC here). Absent values are JSON null, as the
//     recorded incidents show (affected_components, tweet_id,
//     custom_tweet).
//
// There is no idempotency key in the API: a client that lost an answer
// must look before sending again. Tests script faults: answers dropped
// after the request was applied (the connection closes), 5xx outages, and
// read back what the page holds (Incidents, Components) and every request
// (Requests), with any request sent before a Retry-After had passed
// (Violations).
package statuspage

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/clock"
)

// Limits the reference documents.
const (
	MaxName       = 255
	MaxBody       = 25000
	maxListLimit  = 100
	RateWindow    = 60 * time.Second
	RatePerWindow = 60
)

// Component is a page component as the API returns it.
type Component struct {
	ID          string `json:"id"`
	PageID      string `json:"page_id"`
	GroupID     any    `json:"group_id"`
	Name        string `json:"name"`
	Description any    `json:"description"`
	Position    int    `json:"position"`
	Status      string `json:"status"`
	Showcase    bool   `json:"showcase"`
	Group       bool   `json:"group"`
	OnlyIfDeg   bool   `json:"only_show_if_degraded"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
	StartDate   any    `json:"start_date"`
}

// AffectedComponent is one component change of an incident update.
type AffectedComponent struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

// IncidentUpdate is one update of an incident.
type IncidentUpdate struct {
	ID                   string              `json:"id"`
	IncidentID           string              `json:"incident_id"`
	Body                 string              `json:"body"`
	Status               string              `json:"status"`
	AffectedComponents   []AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                `json:"deliver_notifications"`
	CustomTweet          any                 `json:"custom_tweet"`
	TweetID              any                 `json:"tweet_id"`
	DisplayAt            string              `json:"display_at"`
	CreatedAt            string              `json:"created_at"`
	UpdatedAt            string              `json:"updated_at"`
}

// Incident is an incident as the API returns it.
type Incident struct {
	ID              string           `json:"id"`
	PageID          string           `json:"page_id"`
	Name            string           `json:"name"`
	Status          string           `json:"status"`
	Impact          string           `json:"impact"`
	ImpactOverride  any              `json:"impact_override"`
	Shortlink       string           `json:"shortlink"`
	CreatedAt       string           `json:"created_at"`
	UpdatedAt       string           `json:"updated_at"`
	StartedAt       string           `json:"started_at"`
	MonitoringAt    any              `json:"monitoring_at"`
	ResolvedAt      any              `json:"resolved_at"`
	PostmortemBody  any              `json:"postmortem_body"`
	Metadata        map[string]any   `json:"metadata"`
	Components      []Component      `json:"components"`
	IncidentUpdates []IncidentUpdate `json:"incident_updates"` // newest first
}

// Request is one request the fake answered (or dropped).
type Request struct {
	Time    time.Time
	Method  string
	Path    string
	Status  int // 0: the answer was dropped after the request was applied
	Dropped bool
}

// Options configure a Server.
type Options struct {
	Addr   string // default 127.0.0.1:0; loopback only
	PageID string // default "wrpage000001"
	APIKey string // required
	// Components the page starts with (id, name), operational.
	Components []Component
	Clock      clock.Clock
	// RateLimitStatus is 420 (default, what Statuspage answers) or 429.
	RateLimitStatus int
	// RatePerWindow overrides the documented 60 requests a minute.
	RatePerWindow int
	Seed          uint64
}

// Server is a running fake.
type Server struct {
	o   Options
	clk clock.Clock
	srv *http.Server
	ln  net.Listener
	rng *rand.Rand

	mu         sync.Mutex
	incidents  []*Incident // oldest first
	components []*Component
	hits       map[string][]time.Time // per key, the rolling window
	blocked    map[string]time.Time   // per key: Retry-After given until
	requests   []Request
	violations []string
	dropNext   int
	dropP      float64
	failUntil  time.Time
	failStatus int
	seq        int
}

// New builds a server; Start listens.
func New(o Options) *Server {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.PageID == "" {
		o.PageID = "wrpage000001"
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.RateLimitStatus == 0 {
		o.RateLimitStatus = 420
	}
	if o.RatePerWindow <= 0 {
		o.RatePerWindow = RatePerWindow
	}
	s := &Server{o: o, clk: o.Clock, rng: rand.New(rand.NewPCG(o.Seed, 0x57a7)), hits: map[string][]time.Time{}, blocked: map[string]time.Time{}}
	now := s.stamp(s.clk.Now())
	for i, c := range o.Components {
		c := c
		c.PageID, c.Position, c.Status, c.CreatedAt, c.UpdatedAt = o.PageID, i+1, "operational", now, now
		s.components = append(s.components, &c)
	}
	return s
}

// Start listens on loopback.
func (s *Server) Start() error {
	host, _, err := net.SplitHostPort(s.o.Addr)
	if err != nil {
		return fmt.Errorf("statuspage sim: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("statuspage sim: refusing to listen on non-loopback address %s", s.o.Addr)
	}
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("statuspage sim: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // returns on Close
	return nil
}

// Close stops the server.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// APIURL is the API base, e.g. http://127.0.0.1:41234/v1.
func (s *Server) APIURL() string { return "http://" + s.ln.Addr().String() + "/v1" }

// PageID is the page's id.
func (s *Server) PageID() string { return s.o.PageID }

// ---- scripting and reading back -------------------------------------------

// DropReplies applies the next n write requests and then drops their
// answers (the connection closes without a response).
func (s *Server) DropReplies(n int) {
	s.mu.Lock()
	s.dropNext += n
	s.mu.Unlock()
}

// DropReplyProbability drops the answer to each write request with
// probability p, after applying it.
func (s *Server) DropReplyProbability(p float64) {
	s.mu.Lock()
	s.dropP = p
	s.mu.Unlock()
}

// Fail answers every request with status (500, 502, 503…) until the clock
// passes until; nothing is applied.
func (s *Server) Fail(until time.Time, status int) {
	s.mu.Lock()
	s.failUntil, s.failStatus = until, status
	s.mu.Unlock()
}

// Incidents returns copies of the page's incidents, oldest first.
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, 0, len(s.incidents))
	for _, in := range s.incidents {
		out = append(out, s.view(in))
	}
	return out
}

// Components returns copies of the page's components.
func (s *Server) Components() []Component {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Component, 0, len(s.components))
	for _, c := range s.components {
		out = append(out, *c)
	}
	return out
}

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Violations lists requests a client sent before a Retry-After it was
// given had passed.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// ---- HTTP --------------------------------------------------------------------

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

var (
	pathRe  = regexp.MustCompile(`^/v1/pages/([^/]+)(/.*)?$`)
	idChars = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	now := s.clk.Now()
	req := Request{Time: now, Method: r.Method, Path: r.URL.Path}
	status, out, retryAfter, drop := s.serve(now, r, body)
	req.Status = status
	if drop {
		req.Status, req.Dropped = 0, true
	}
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	if status >= 500 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if out != nil {
		json.NewEncoder(w).Encode(out) //nolint:errcheck
	}
}

// serve answers one request; s.mu is held.
func (s *Server) serve(now time.Time, r *http.Request, body []byte) (status int, out any, retryAfter time.Duration, drop bool) {
	fail := func(e *apiError) (int, any, time.Duration, bool) {
		return e.status, map[string]string{"message": e.msg}, 0, false
	}
	key := r.URL.Query().Get("api_key")
	if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "OAuth "); ok {
		key = strings.TrimSpace(a)
	}
	if key == "" || key != s.o.APIKey {
		return fail(errf(401, "Could not authenticate"))
	}
	if until, ok := s.blocked[key]; ok && now.Before(until) {
		s.violations = append(s.violations, fmt.Sprintf("%s %s at %s, %s before the Retry-After", r.Method, r.URL.Path,
			now.UTC().Format("15:04:05.000"), until.Sub(now).Round(time.Millisecond)))
	}
	// The rolling window: requests of the last 60 s.
	hits := s.hits[key]
	for len(hits) > 0 && !hits[0].After(now.Add(-RateWindow)) {
		hits = hits[1:]
	}
	if len(hits) >= s.o.RatePerWindow {
		ra := hits[0].Add(RateWindow).Sub(now)
		ra = max(time.Duration(math.Ceil(ra.Seconds()))*time.Second, time.Second)
		s.blocked[key] = now.Add(ra)
		s.hits[key] = hits
		return s.o.RateLimitStatus, map[string]string{"message": "Rate limit exceeded"}, ra, false
	}
	s.hits[key] = append(hits, now)
	if now.Before(s.failUntil) {
		return s.failStatus, nil, 0, false
	}
	m := pathRe.FindStringSubmatch(r.URL.Path)
	if m == nil || m[1] != s.o.PageID {
		return fail(errf(404, "The requested resource could not be found."))
	}
	rest := strings.TrimSuffix(m[2], ".json")
	write := r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut
	var res any
	var err *apiError
	status = 200
	switch {
	case rest == "/incidents" && r.Method == http.MethodGet:
		res, err = s.list(r.URL.Query(), false)
	case rest == "/incidents/unresolved" && r.Method == http.MethodGet:
		res, err = s.list(r.URL.Query(), true)
	case rest == "/incidents" && r.Method == http.MethodPost:
		res, err = s.create(now, r, body)
		status = 201
	case strings.HasPrefix(rest, "/incidents/") && !strings.Contains(rest[len("/incidents/"):], "/"):
		id := rest[len("/incidents/"):]
		switch r.Method {
		case http.MethodGet:
			res, err = s.get(id)
		case http.MethodPatch, http.MethodPut:
			res, err = s.patch(now, id, r, body)
		default:
			err = errf(405, "Method not allowed")
		}
	case rest == "/components" && r.Method == http.MethodGet:
		res, err = s.listComponents(r.URL.Query())
	case strings.HasPrefix(rest, "/components/"):
		id := rest[len("/components/"):]
		switch r.Method {
		case http.MethodGet:
			res, err = s.component(id)
		case http.MethodPatch, http.MethodPut:
			res, err = s.patchComponent(now, id, r, body)
		default:
			err = errf(405, "Method not allowed")
		}
	default:
		err = errf(404, "The requested resource could not be found.")
	}
	if err != nil {
		return fail(err)
	}
	if write && (s.dropNext > 0 || s.dropP > 0 && s.rng.Float64() < s.dropP) {
		if s.dropNext > 0 {
			s.dropNext--
		}
		return status, nil, 0, true
	}
	return status, res, 0, false
}

func (s *Server) newID() string {
	b := make([]byte, 12)
	for i := range b {
		b[i] = idChars[s.rng.IntN(len(idChars))]
	}
	return string(b)
}

func (s *Server) stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// incidentFields is the writable part of an incident.
type incidentFields struct {
	Name                 *string           `json:"name"`
	Status               *string           `json:"status"`
	ImpactOverride       *string           `json:"impact_override"`
	Body                 *string           `json:"body"`
	Components           map[string]string `json:"components"`
	ComponentIDs         []string          `json:"component_ids"`
	DeliverNotifications *bool             `json:"deliver_notifications"`
	Metadata             map[string]any    `json:"metadata"`
}

var (
	incidentStatuses  = []string{"investigating", "identified", "monitoring", "resolved"}
	componentStatuses = []string{"operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"}
	impacts           = []string{"none", "maintenance", "minor", "major", "critical"}
)

func decode(r *http.Request, body []byte, wrapper string, dst any) *apiError {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errf(400, "Bad request: send JSON (Content-Type: application/json)")
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return errf(400, "Bad request: %v", err)
	}
	raw, ok := env[wrapper]
	if !ok {
		return errf(400, "Bad request: param is missing or the value is empty: %s", wrapper)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(dst); err != nil {
		return errf(400, "Bad request: %v", err)
	}
	return nil
}

func (s *Server) checkFields(f *incidentFields, creating bool) *apiError {
	var problems []string
	if creating && (f.Name == nil || strings.TrimSpace(*f.Name) == "") {
		problems = append(problems, "Name can't be blank")
	}
	if f.Name != nil && utf8.RuneCountInString(*f.Name) > MaxName {
		problems = append(problems, fmt.Sprintf("Name is too long (maximum is %d characters)", MaxName))
	}
	if f.Body != nil && utf8.RuneCountInString(*f.Body) > MaxBody {
		problems = append(problems, fmt.Sprintf("Body is too long (maximum is %d characters)", MaxBody))
	}
	if f.Status != nil && !slices.Contains(incidentStatuses, *f.Status) {
		problems = append(problems, "Status is not included in the list")
	}
	if f.ImpactOverride != nil && !slices.Contains(impacts, *f.ImpactOverride) {
		problems = append(problems, "Impact override is not included in the list")
	}
	for id, st := range f.Components {
		if s.findComponent(id) == nil {
			problems = append(problems, "Component "+id+" does not exist")
		}
		if !slices.Contains(componentStatuses, st) {
			problems = append(problems, "Component status is not included in the list")
		}
	}
	for _, id := range f.ComponentIDs {
		if s.findComponent(id) == nil {
			problems = append(problems, "Component "+id+" does not exist")
		}
	}
	for k, v := range f.Metadata {
		if _, ok := v.(map[string]any); !ok {
			problems = append(problems, "Metadata "+k+" must be an object")
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errf(422, "Unprocessable entity: %s", strings.Join(problems, ", "))
	}
	return nil
}

func (s *Server) create(now time.Time, r *http.Request, body []byte) (any, *apiError) {
	var f incidentFields
	if err := decode(r, body, "incident", &f); err != nil {
		return nil, err
	}
	if err := s.checkFields(&f, true); err != nil {
		return nil, err
	}
	st := "investigating"
	if f.Status != nil {
		st = *f.Status
	}
	in := &Incident{ID: s.newID(), PageID: s.o.PageID, Name: *f.Name, Status: st, CreatedAt: s.stamp(now), StartedAt: s.stamp(now),
		Metadata: map[string]any{}}
	s.seq++
	in.Shortlink = fmt.Sprintf("http://stspg.io/%09x", s.seq)
	s.incidents = append(s.incidents, in)
	s.apply(now, in, &f)
	v := s.view(in)
	return v, nil
}

func (s *Server) findIncident(id string) *Incident {
	for _, in := range s.incidents {
		if in.ID == id {
			return in
		}
	}
	return nil
}

func (s *Server) findComponent(id string) *Component {
	for _, c := range s.components {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) patch(now time.Time, id string, r *http.Request, body []byte) (any, *apiError) {
	in := s.findIncident(id)
	if in == nil {
		return nil, errf(404, "The requested resource could not be found.")
	}
	var f incidentFields
	if err := decode(r, body, "incident", &f); err != nil {
		return nil, err
	}
	if err := s.checkFields(&f, false); err != nil {
		return nil, err
	}
	if f.Name != nil {
		in.Name = *f.Name
	}
	s.apply(now, in, &f)
	return s.view(in), nil
}

// apply writes fields into an incident, adding an update when a body or a
// status came.
func (s *Server) apply(now time.Time, in *Incident, f *incidentFields) {
	ts := s.stamp(now)
	in.UpdatedAt = ts
	if f.Status != nil {
		in.Status = *f.Status
	}
	switch in.Status {
	case "monitoring":
		if in.MonitoringAt == nil {
			in.MonitoringAt = ts
		}
	case "resolved":
		in.ResolvedAt = ts
	}
	if f.ImpactOverride != nil {
		in.ImpactOverride = *f.ImpactOverride
	}
	for k, v := range f.Metadata {
		in.Metadata[k] = v
	}
	var affected []AffectedComponent
	ids := append([]string(nil), f.ComponentIDs...)
	for id := range f.Components {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := s.findComponent(id)
		if !slices.ContainsFunc(in.Components, func(x Component) bool { return x.ID == id }) {
			in.Components = append(in.Components, *c)
		}
		if st, ok := f.Components[id]; ok && st != c.Status {
			affected = append(affected, AffectedComponent{Code: c.ID, Name: c.Name, OldStatus: c.Status, NewStatus: st})
			c.Status, c.UpdatedAt = st, ts
		}
	}
	for i := range in.Components {
		if c := s.findComponent(in.Components[i].ID); c != nil {
			in.Components[i] = *c
		}
	}
	worst := 0
	for _, c := range in.Components {
		worst = max(worst, map[string]int{"degraded_performance": 1, "partial_outage": 2, "major_outage": 3}[c.Status])
	}
	in.Impact = []string{"none", "minor", "major", "critical"}[worst]
	if o, ok := in.ImpactOverride.(string); ok {
		in.Impact = o
	}
	if f.Body == nil && f.Status == nil {
		return
	}
	body := ""
	if f.Body != nil {
		body = *f.Body
	}
	notify := true
	if f.DeliverNotifications != nil {
		notify = *f.DeliverNotifications
	}
	u := IncidentUpdate{ID: s.newID(), IncidentID: in.ID, Body: body, Status: in.Status, AffectedComponents: affected,
		DeliverNotifications: notify, DisplayAt: ts, CreatedAt: ts, UpdatedAt: ts}
	in.IncidentUpdates = append([]IncidentUpdate{u}, in.IncidentUpdates...)
}

func (s *Server) view(in *Incident) Incident {
	v := *in
	v.Metadata = map[string]any{}
	for k, x := range in.Metadata {
		v.Metadata[k] = x
	}
	v.Components = slices.Clone(in.Components)
	v.IncidentUpdates = slices.Clone(in.IncidentUpdates)
	return v
}

func (s *Server) get(id string) (any, *apiError) {
	in := s.findIncident(id)
	if in == nil {
		return nil, errf(404, "The requested resource could not be found.")
	}
	return s.view(in), nil
}

func (s *Server) list(q url.Values, unresolved bool) (any, *apiError) {
	limit, page := maxListLimit, 1
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errf(400, "Bad request: limit must be a positive integer")
		}
		limit = min(n, maxListLimit)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errf(400, "Bad request: page must be a positive integer")
		}
		page = n
	}
	text := strings.ToLower(q.Get("q"))
	out := []Incident{}
	for i := len(s.incidents) - 1; i >= 0; i-- {
		in := s.incidents[i]
		if unresolved && in.Status == "resolved" {
			continue
		}
		if text != "" && !matches(in, text) {
			continue
		}
		out = append(out, s.view(in))
	}
	from := (page - 1) * limit
	if from >= len(out) {
		return []Incident{}, nil
	}
	return out[from:min(len(out), from+limit)], nil
}

// listComponents pages the components: per_page at most 100 (the
// default), page from 1.
func (s *Server) listComponents(q url.Values) (any, *apiError) {
	per, page := maxListLimit, 1
	for _, p := range []struct {
		name string
		v    *int
	}{{"per_page", &per}, {"page", &page}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, errf(400, "Bad request: %s must be a positive integer", p.name)
			}
			*p.v = n
		}
	}
	per = min(per, maxListLimit)
	out := []Component{}
	for _, c := range s.components {
		out = append(out, *c)
	}
	from := (page - 1) * per
	if from >= len(out) {
		return []Component{}, nil
	}
	return out[from:min(len(out), from+per)], nil
}

func matches(in *Incident, text string) bool {
	if strings.Contains(strings.ToLower(in.Name), text) || strings.Contains(in.Status, text) {
		return true
	}
	for _, u := range in.IncidentUpdates {
		if strings.Contains(strings.ToLower(u.Body), text) {
			return true
		}
	}
	return false
}

func (s *Server) component(id string) (any, *apiError) {
	c := s.findComponent(id)
	if c == nil {
		return nil, errf(404, "The requested resource could not be found.")
	}
	return *c, nil
}

func (s *Server) patchComponent(now time.Time, id string, r *http.Request, body []byte) (any, *apiError) {
	c := s.findComponent(id)
	if c == nil {
		return nil, errf(404, "The requested resource could not be found.")
	}
	var f struct {
		Status      *string `json:"status"`
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := decode(r, body, "component", &f); err != nil {
		return nil, err
	}
	if f.Status != nil && !slices.Contains(componentStatuses, *f.Status) {
		return nil, errf(422, "Unprocessable entity: Status is not included in the list")
	}
	if f.Status != nil {
		c.Status = *f.Status
	}
	if f.Name != nil {
		c.Name = *f.Name
	}
	c.UpdatedAt = s.stamp(now)
	return *c, nil
}
