package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/textsafe"
)

// SeverityNames names the incident's four severity levels (SEV1 is the
// worst). Unset names keep their defaults.
type SeverityNames struct {
	SEV1 string `yaml:"sev1"`
	SEV2 string `yaml:"sev2"`
	SEV3 string `yaml:"sev3"`
	SEV4 string `yaml:"sev4"`
}

// DefaultSeverityNames are used for names the file leaves unset.
var DefaultSeverityNames = SeverityNames{SEV1: "Critical", SEV2: "Major", SEV3: "Minor", SEV4: "Low"}

// Name is the name of level (SEV1…SEV4), "" for an unknown level.
func (s SeverityNames) Name(level string) string {
	switch level {
	case "SEV1":
		return s.SEV1
	case "SEV2":
		return s.SEV2
	case "SEV3":
		return s.SEV3
	case "SEV4":
		return s.SEV4
	}
	return ""
}

// Comms is how the room tells people outside it what is happening:
// public components, update templates, the update cadence, who approves
// updates, and where they are published.
type Comms struct {
	// Title names the product on the public status page ("Wallet").
	Title      string      `yaml:"title"`
	Cadence    Cadence     `yaml:"cadence"`
	Approval   Approval    `yaml:"approval"`
	Components []Component `yaml:"components"`
	Templates  []Template  `yaml:"templates"`
	Statuspage *Statuspage `yaml:"statuspage"`
}

// Cadence is how often the public hears from the room while the incident
// is not resolved.
type Cadence struct {
	Every       Duration `yaml:"every"`        // between updates (default 30m)
	AfterChange Duration `yaml:"after_change"` // after a status change, and after the incident goes public (default 10m)
}

// Approval says which updates need the commander's (or the deputy's)
// approval before they are published. The commander's own updates never
// wait.
type Approval struct {
	First        *bool `yaml:"first"`         // the first update (default true)
	StatusChange *bool `yaml:"status_change"` // an update that changes the incident's or a component's public status (default true)
	Every        bool  `yaml:"every"`         // every update
}

// NeedsFirst and NeedsStatusChange read the defaults.
func (a Approval) NeedsFirst() bool        { return a.First == nil || *a.First }
func (a Approval) NeedsStatusChange() bool { return a.StatusChange == nil || *a.StatusChange }

// Component is a public component: what customers see as one thing,
// backed by one or more of the room's services.
type Component struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Services []string `yaml:"services"`
	// StatuspageID is the component's id on the Statuspage page.
	StatuspageID string `yaml:"statuspage_id"`
}

// Template is a pre-approved public update.
type Template struct {
	ID     string `yaml:"id"`
	Title  string `yaml:"title"`  // the public incident's name
	Status string `yaml:"status"` // investigating, identified, monitoring or resolved
	Body   string `yaml:"body"`
}

// Statuspage publishes updates to an Atlassian Statuspage page.
type Statuspage struct {
	APIURL string `yaml:"api_url"` // default https://api.statuspage.io/v1
	PageID string `yaml:"page_id"`
	APIKey Secret `yaml:"api_key"`
	// Notify is the default of an update's notify flag (Statuspage's
	// deliver_notifications): whether subscribers are told (default true).
	Notify *bool `yaml:"notify"`
}

// NotifyDefault reads the default.
func (s *Statuspage) NotifyDefault() bool { return s == nil || s.Notify == nil || *s.Notify }

// Defaults and bounds of comms.
const (
	DefaultCadenceEvery       = 30 * time.Minute
	DefaultCadenceAfterChange = 10 * time.Minute
	DefaultStatuspageURL      = "https://api.statuspage.io/v1"
	// MaxTitle and MaxBody bound a public update: Statuspage allows 255
	// characters in an incident name and 25,000 in a body; an update
	// people read on a phone is far shorter.
	MaxTitle = 255
	MaxBody  = 5000
)

// IncidentStatuses are the public incident statuses, in order.
var IncidentStatuses = []string{"investigating", "identified", "monitoring", "resolved"}

// ComponentStatuses are Statuspage's five component statuses, best first.
var ComponentStatuses = []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}

func (v *validator) severities() {
	s := v.c.Incident.Severities
	for _, f := range []struct{ path, val string }{
		{"incident.severities.sev1", s.SEV1}, {"incident.severities.sev2", s.SEV2},
		{"incident.severities.sev3", s.SEV3}, {"incident.severities.sev4", s.SEV4},
	} {
		v.name(f.path, f.val)
		if v.has(f.path) && strings.TrimSpace(f.val) == "" {
			v.at(f.path, "empty severity name", "leave it out for the default")
		}
	}
}

func (v *validator) comms() {
	c := v.c.Comms
	if c == nil {
		return
	}
	v.name("comms.title", c.Title)
	v.positive("comms.cadence.every", c.Cadence.Every)
	v.positive("comms.cadence.after_change", c.Cadence.AfterChange)
	services := map[string]bool{}
	for _, s := range v.c.Services {
		services[s.ID] = true
	}
	seen := map[string]string{}
	spIDs := map[string]string{}
	for i, comp := range c.Components {
		p := fmt.Sprintf("comms.components[%d]", i)
		v.id(p+".id", comp.ID, "component id", seen)
		if strings.TrimSpace(comp.Name) == "" {
			v.at(p+".name", missing, "the name customers see, e.g. Claims")
		}
		v.name(p+".name", comp.Name)
		if len(comp.Services) == 0 {
			v.at(p+".services", missing, "list the room's services behind it, e.g. [tokens, blowfish]")
		}
		for j, s := range comp.Services {
			if !services[s] {
				ids := make([]string, 0, len(services))
				for _, x := range v.c.Services {
					ids = append(ids, x.ID)
				}
				v.at(fmt.Sprintf("%s.services[%d]", p, j), "unknown service "+quoteShort(s), suggest(s, ids, "services"))
			}
		}
		switch {
		case c.Statuspage != nil && comp.StatuspageID == "":
			v.at(p+".statuspage_id", missing, "the component's id on the Statuspage page (Components → the component → its id); updates change it there")
		case comp.StatuspageID != "" && c.Statuspage == nil:
			v.atKey(p+".statuspage_id", "statuspage_id without a comms.statuspage section", "add comms.statuspage, or leave the id out")
		case comp.StatuspageID != "":
			if first, dup := spIDs[comp.StatuspageID]; dup {
				v.at(p+".statuspage_id", "Statuspage component "+quoteShort(comp.StatuspageID)+" is mapped twice", fmt.Sprintf("first at %s, line %d", first, v.line(first)))
			}
			spIDs[comp.StatuspageID] = p + ".statuspage_id"
			v.name(p+".statuspage_id", comp.StatuspageID)
		}
	}
	seen = map[string]string{}
	for i, t := range c.Templates {
		p := fmt.Sprintf("comms.templates[%d]", i)
		v.id(p+".id", t.ID, "template id", seen)
		if msg := CheckTitle(t.Title); msg != "" {
			v.at(p+".title", msg, "the public incident's name, e.g. Slow claims")
		}
		switch {
		case t.Status == "":
			v.at(p+".status", missing, "one of "+strings.Join(IncidentStatuses, ", "))
		case !slices.Contains(IncidentStatuses, t.Status):
			v.at(p+".status", "unknown status "+quoteShort(t.Status), suggest(t.Status, IncidentStatuses, "one of"))
		}
		if msg := CheckBody(t.Body); msg != "" {
			v.at(p+".body", msg, "the text customers read; write it once, calmly, ahead of the launch")
		}
	}
	if sp := c.Statuspage; sp != nil {
		if strings.TrimSpace(sp.PageID) == "" {
			v.at("comms.statuspage.page_id", missing, "the page id from Statuspage's API info, e.g. gytm4qzbx9t6")
		} else {
			v.name("comms.statuspage.page_id", sp.PageID)
		}
		if !sp.APIKey.IsSet() {
			v.at("comms.statuspage.api_key", missing, "write api_key: ${STATUSPAGE_API_KEY}")
		}
		if sp.APIURL != "" {
			v.url("comms.statuspage.api_url", sp.APIURL)
		}
	}
}

// CheckTitle says what is wrong with a public incident name ("" if
// nothing).
func CheckTitle(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return missing
	case utf8.RuneCountInString(s) > MaxTitle:
		return fmt.Sprintf("a title is at most %d characters", MaxTitle)
	case !textsafe.Safe(s):
		return "a title is one line without control, escape or bidi characters"
	}
	return ""
}

// CheckBody says what is wrong with a public update's text ("" if
// nothing): line breaks are allowed, other controls are not.
func CheckBody(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return missing
	case !utf8.ValidString(s):
		return "the text is not valid UTF-8"
	case len(s) > MaxBody:
		return fmt.Sprintf("an update is at most %d bytes (this one is %d)", MaxBody, len(s))
	case textsafe.Text(s) != s:
		return "the text holds control, escape or bidi characters"
	}
	return ""
}

func applyCommsDefaults(c *Config) {
	s := &c.Incident.Severities
	if s.SEV1 == "" {
		s.SEV1 = DefaultSeverityNames.SEV1
	}
	if s.SEV2 == "" {
		s.SEV2 = DefaultSeverityNames.SEV2
	}
	if s.SEV3 == "" {
		s.SEV3 = DefaultSeverityNames.SEV3
	}
	if s.SEV4 == "" {
		s.SEV4 = DefaultSeverityNames.SEV4
	}
	cm := c.Comms
	if cm == nil {
		return
	}
	if cm.Cadence.Every == 0 {
		cm.Cadence.Every = Duration(DefaultCadenceEvery)
	}
	if cm.Cadence.AfterChange == 0 {
		cm.Cadence.AfterChange = Duration(DefaultCadenceAfterChange)
	}
	if cm.Title == "" {
		cm.Title = c.Incident.Name
	}
	if sp := cm.Statuspage; sp != nil {
		if sp.APIURL == "" {
			sp.APIURL = DefaultStatuspageURL
		}
		sp.APIURL = strings.TrimRight(sp.APIURL, "/")
	}
}

// ComponentByID returns the component with the id, or nil.
func (c *Comms) ComponentByID(id string) *Component {
	if c == nil {
		return nil
	}
	for i := range c.Components {
		if c.Components[i].ID == id {
			return &c.Components[i]
		}
	}
	return nil
}

// TemplateByID returns the template with the id, or nil.
func (c *Comms) TemplateByID(id string) *Template {
	if c == nil {
		return nil
	}
	for i := range c.Templates {
		if c.Templates[i].ID == id {
			return &c.Templates[i]
		}
	}
	return nil
}
