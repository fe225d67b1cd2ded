package comms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe"
)

// The built-in public status page: what customers see of the room,
// served by `warroom serve --status ADDR` apart from the authenticated
// API. It shows only what was published: the components' statuses, and
// the incident as its published updates say (never a draft waiting for
// approval, never the room's timeline). Three documents:
//
//   - / : one self-contained HTML page (inline CSS, no scripts, no
//     cookies, no external requests; it refreshes itself every minute
//     with <meta http-equiv="refresh">, so it works with JavaScript off);
//   - /index.json : Statuspage's public summary shape (page, status,
//     components, incidents with incident_updates), so tools that read a
//     Statuspage page read this one;
//   - /history.atom : an Atom feed (RFC 4287), one entry per update.
//
// Every text is made inert by textsafe and then escaped for its format.
// Answers are rendered once per change of the incident and cached, with
// an ETag: a crowd refreshing the page during an outage costs the room a
// lookup per request, not a render (BenchmarkPageServe).

// View is what the public page shows.
type View struct {
	Title       string
	UpdatedAt   time.Time
	Indicator   string // none, minor, major, critical (or maintenance)
	Description string // "All Systems Operational"…
	Components  []ViewComponent
	Incident    *ViewIncident // nil before the first published update
}

// ViewComponent is one public component.
type ViewComponent struct {
	ID, Name, Status string
}

// Label is the component's status in words.
func (c ViewComponent) Label() string { return incident.ComponentLabel(c.Status) }

// ViewIncident is the incident as its published updates tell it.
type ViewIncident struct {
	ID         string // the key of its first update
	Name       string
	Status     string
	Impact     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ResolvedAt time.Time
	Updates    []ViewUpdate // newest first
}

// ViewUpdate is one published update.
type ViewUpdate struct {
	ID, Key, Status string
	Body            string
	At              time.Time
}

// Paragraphs splits the body into its lines, for HTML.
func (u ViewUpdate) Paragraphs() []string {
	var out []string
	for _, l := range strings.Split(u.Body, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Build is the public view of a state.
func Build(cfg *config.Config, st *incident.State) View {
	v := View{Title: cfg.Incident.Name}
	if cfg.Comms != nil {
		v.Title = cfg.Comms.Title
		for _, c := range cfg.Comms.Components {
			v.Components = append(v.Components, ViewComponent{ID: c.ID, Name: textsafe.Line(c.Name), Status: st.Life.Component(c.ID)})
		}
	}
	v.Title = textsafe.Line(v.Title)
	worst := 0
	maint := false
	for _, c := range v.Components {
		worst = max(worst, incident.ComponentRank(c.Status))
		maint = maint || c.Status == incident.ComponentMaintenance
	}
	for _, e := range st.Recent {
		if e.Kind == incident.KindComponent && e.Time.After(v.UpdatedAt) {
			v.UpdatedAt = e.Time
		}
	}
	if len(st.Life.Updates) > 0 {
		first, last := st.Life.Updates[0], st.Life.Published()
		in := &ViewIncident{ID: first.Key, Name: textsafe.Line(last.Draft.Title), Status: last.Draft.Status,
			CreatedAt: first.PublishedAt, UpdatedAt: last.PublishedAt}
		for i := len(st.Life.Updates) - 1; i >= 0; i-- {
			u := st.Life.Updates[i]
			in.Updates = append(in.Updates, ViewUpdate{ID: u.ID, Key: u.Key, Status: u.Draft.Status, Body: textsafe.Text(u.Draft.Body), At: u.PublishedAt})
		}
		if in.Status == incident.StatusResolved {
			in.ResolvedAt = last.PublishedAt
		}
		in.Impact = impactOf(st.Life.Severity)
		if in.Impact == "" {
			in.Impact = []string{"none", "minor", "major", "critical"}[worst]
		}
		if last.PublishedAt.After(v.UpdatedAt) {
			v.UpdatedAt = last.PublishedAt
		}
		v.Incident = in
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = st.Declared
	}
	v.Indicator = []string{"none", "minor", "major", "critical"}[worst]
	if in := v.Incident; in != nil && in.Status != incident.StatusResolved {
		v.Indicator = maxIndicator(v.Indicator, in.Impact)
	}
	switch {
	case v.Indicator == "critical":
		v.Description = "Major Service Outage"
	case v.Indicator == "major":
		v.Description = "Partial System Outage"
	case v.Indicator == "minor":
		v.Description = "Minor Service Outage"
	case maint:
		v.Indicator, v.Description = "maintenance", "Service Under Maintenance"
	default:
		v.Description = "All Systems Operational"
	}
	return v
}

func maxIndicator(a, b string) string {
	rank := map[string]int{"none": 0, "minor": 1, "major": 2, "critical": 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// ---- the page ----------------------------------------------------------------

//go:embed page.html.tmpl
var pageFiles embed.FS

var pageTmpl = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
	"stamp": func(t time.Time) string { return t.UTC().Format("Jan 2, 15:04 UTC") },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"title": statusTitle,
}).ParseFS(pageFiles, "page.html.tmpl"))

func statusTitle(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// RenderHTML writes the page.
func (v View) RenderHTML() ([]byte, error) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// summary is Statuspage's public summary.json, as much as the room knows.
type summary struct {
	Page struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		URL       string `json:"url"`
		TimeZone  string `json:"time_zone"`
		UpdatedAt string `json:"updated_at"`
	} `json:"page"`
	Status struct {
		Indicator   string `json:"indicator"`
		Description string `json:"description"`
	} `json:"status"`
	Components []summaryComponent `json:"components"`
	Incidents  []summaryIncident  `json:"incidents"`
	// ScheduledMaintenances is always empty: the room has none.
	ScheduledMaintenances []struct{} `json:"scheduled_maintenances"`
}

type summaryComponent struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Position  int    `json:"position"`
	UpdatedAt string `json:"updated_at"`
}

type summaryIncident struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	Impact          string          `json:"impact"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	ResolvedAt      *string         `json:"resolved_at"`
	Shortlink       string          `json:"shortlink"`
	IncidentUpdates []summaryUpdate `json:"incident_updates"`
}

type summaryUpdate struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Body      string `json:"body"`
	CreatedAt string `json:"created_at"`
	DisplayAt string `json:"display_at"`
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// RenderJSON writes index.json. Incidents lists the room's incident while
// it is not resolved (Statuspage's summary lists unresolved incidents).
func (v View) RenderJSON(pageURL string) ([]byte, error) {
	var s summary
	s.Page.ID, s.Page.Name, s.Page.URL, s.Page.TimeZone, s.Page.UpdatedAt = "warroom", v.Title, pageURL, "Etc/UTC", ts(v.UpdatedAt)
	s.Status.Indicator, s.Status.Description = v.Indicator, v.Description
	s.Components = []summaryComponent{}
	for i, c := range v.Components {
		s.Components = append(s.Components, summaryComponent{ID: c.ID, Name: c.Name, Status: c.Status, Position: i + 1, UpdatedAt: ts(v.UpdatedAt)})
	}
	s.Incidents = []summaryIncident{}
	s.ScheduledMaintenances = []struct{}{}
	if in := v.Incident; in != nil && in.Status != incident.StatusResolved {
		si := summaryIncident{ID: in.ID, Name: in.Name, Status: in.Status, Impact: in.Impact, CreatedAt: ts(in.CreatedAt), UpdatedAt: ts(in.UpdatedAt),
			Shortlink: strings.TrimRight(pageURL, "/") + "/#" + in.ID}
		for _, u := range in.Updates {
			si.IncidentUpdates = append(si.IncidentUpdates, summaryUpdate{ID: u.Key, Status: u.Status, Body: u.Body, CreatedAt: ts(u.At), DisplayAt: ts(u.At)})
		}
		s.Incidents = append(s.Incidents, si)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(textsafe.EscapeJSON(b), '\n'), nil
}

// Atom (RFC 4287).
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Link    []atomLink  `xml:"link"`
	Author  atomPerson  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID      string     `xml:"id"`
	Title   string     `xml:"title"`
	Updated string     `xml:"updated"`
	Link    atomLink   `xml:"link"`
	Content atomSimple `xml:"content"`
}

type atomSimple struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

// RenderAtom writes history.atom: one entry per published update, newest
// first.
func (v View) RenderAtom(pageURL string) ([]byte, error) {
	base := strings.TrimRight(pageURL, "/")
	f := atomFeed{ID: "urn:warroom:status:" + idPart(v.Title), Title: v.Title + " status", Updated: v.UpdatedAt.UTC().Format(time.RFC3339),
		Link:   []atomLink{{Href: base + "/", Type: "text/html"}, {Href: base + "/history.atom", Rel: "self", Type: "application/atom+xml"}},
		Author: atomPerson{Name: v.Title}}
	if in := v.Incident; in != nil {
		for _, u := range in.Updates {
			f.Entries = append(f.Entries, atomEntry{ID: "urn:warroom:update:" + u.Key, Title: statusTitle(u.Status) + ": " + in.Name,
				Updated: u.At.UTC().Format(time.RFC3339), Link: atomLink{Href: base + "/#" + u.ID, Type: "text/html"},
				Content: atomSimple{Type: "text", Text: u.Body}})
		}
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func idPart(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// Page serves the public status page from a live copy of the incident.
type Page struct {
	cfg *config.Config
	// URL is the page's public address, used in the JSON and the feed
	// (default: the request's host).
	URL string

	mu   sync.RWMutex
	st   *incident.State
	done chan struct{}
	// version counts the changes of st that may change the page (events,
	// a resync); samples do not.
	version uint64
	// cache holds rendered answers of the current version, so that a
	// crowd refreshing the page costs a map lookup, not a render each.
	cacheMu sync.Mutex
	cache   map[string]rendered
}

// rendered is one cached answer.
type rendered struct {
	version uint64
	body    []byte
	etag    string
	updated time.Time
}

// maxCached bounds the cache: without --status-url the feed's links
// follow the request's Host, which a client chooses.
const maxCached = 32

// NewPage follows the engine until ctx ends.
func NewPage(ctx context.Context, eng Engine) (*Page, error) {
	snap, sub, err := eng.Subscribe(ctx, 256)
	if err != nil {
		return nil, err
	}
	p := &Page{cfg: eng.Config(), st: snap, done: make(chan struct{})}
	go p.follow(ctx, eng, sub)
	return p, nil
}

// Done is closed when the page stops following the engine.
func (p *Page) Done() <-chan struct{} { return p.done }

func (p *Page) follow(ctx context.Context, eng Engine, sub *incident.Subscription) {
	defer close(p.done)
	_ = incident.Follow(ctx, eng, sub, 256, func(snap *incident.State) error {
		p.mu.Lock()
		p.st = snap
		p.version++
		p.mu.Unlock()
		return nil
	}, func(u incident.Update) error {
		p.mu.Lock()
		p.st.ApplyUpdate(u)
		if len(u.Events) > 0 {
			p.version++
		}
		p.mu.Unlock()
		return nil
	})
}

// View is the page's current view.
func (p *Page) View() View {
	v, _ := p.view()
	return v
}

// view is the page's current view and its version.
func (p *Page) view() (View, uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return Build(p.cfg, p.st), p.version
}

// render answers path from the cache, rendering it when the incident
// changed since.
func (p *Page) render(path, url string) (rendered, error) {
	key := path
	if path != "/" {
		key += "\x00" + url
	}
	p.mu.RLock()
	version := p.version
	p.mu.RUnlock()
	p.cacheMu.Lock()
	c, ok := p.cache[key]
	p.cacheMu.Unlock()
	if ok && c.version == version {
		return c, nil
	}
	v, version := p.view()
	var body []byte
	var err error
	switch path {
	case "/":
		body, err = v.RenderHTML()
	case "/index.json":
		body, err = v.RenderJSON(url)
	default:
		body, err = v.RenderAtom(url)
	}
	if err != nil {
		return rendered{}, err
	}
	sum := sha256.Sum256(body)
	c = rendered{version: version, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, updated: v.UpdatedAt}
	p.cacheMu.Lock()
	if p.cache == nil || len(p.cache) >= maxCached {
		p.cache = map[string]rendered{}
	}
	p.cache[key] = c
	p.cacheMu.Unlock()
	return c, nil
}

// ServeHTTP serves /, /index.json and /history.atom (GET and HEAD).
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	url := p.URL
	if url == "" {
		url = "http://" + r.Host
	}
	switch r.URL.Path {
	case "/":
		h.Set("Content-Type", "text/html; charset=utf-8")
	case "/index.json":
		h.Set("Content-Type", "application/json")
	case "/history.atom":
		h.Set("Content-Type", "application/atom+xml; charset=utf-8")
	default:
		http.NotFound(w, r)
		return
	}
	c, err := p.render(r.URL.Path, url)
	if err != nil {
		http.Error(w, "the status page could not be rendered", http.StatusInternalServerError)
		return
	}
	h.Set("Cache-Control", "public, max-age=15")
	h.Set("ETag", c.etag)
	if !c.updated.IsZero() {
		h.Set("Last-Modified", c.updated.UTC().Format(http.TimeFormat))
	}
	// ServeContent answers HEAD and If-None-Match from the ETag. It is
	// given no time: two changes within a second would make
	// If-Modified-Since answer 304 for a page that changed.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.body))
}
