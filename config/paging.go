package config

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultPagerDutyEventsURL is PagerDuty's Events API v2 base URL (the
// client appends /v2/enqueue).
const DefaultPagerDutyEventsURL = "https://events.pagerduty.com"

// PagerDuty configures paging through PagerDuty: the Events API v2 that
// pages go out through, and the V3 webhook subscription that brings
// acknowledgements back (POST /api/pagerduty on `warroom serve`).
type PagerDuty struct {
	// EventsURL is the Events API v2 base URL (a proxy, a test server).
	EventsURL string `yaml:"events_url"`
	// RoutingKey is the integration that pages people who have no key of
	// their own (and whose service has none).
	RoutingKey Secret `yaml:"routing_key"`
	// WebhookSecret is the V3 webhook subscription's signing secret;
	// without it /api/pagerduty refuses every delivery.
	WebhookSecret Secret `yaml:"webhook_secret"`
}

// PersonPagerDuty is how PagerDuty knows a roster person.
type PersonPagerDuty struct {
	// User is their PagerDuty user ID (PXXXXXX): an acknowledgement they
	// make in PagerDuty acks in the room as them.
	User string `yaml:"user"`
	// RoutingKey is an integration that pages them alone.
	RoutingKey Secret `yaml:"routing_key"`
}

// ServicePagerDuty is a service's PagerDuty integration: the service's
// own on-call, for pages to its owner and backup.
type ServicePagerDuty struct {
	RoutingKey Secret `yaml:"routing_key"`
}

// Route names where a page goes in PagerDuty, without the key itself
// (the journal records routes, never keys): person:<handle>,
// service:<id> or room.
type Route string

// PagerDutyRoute is where a page to person about service goes: their own
// integration, else the service's when they are its owner or backup,
// else the room's; "" when none is configured (the page stays in the
// room and Slack).
func (c *Config) PagerDutyRoute(person, service string) Route {
	if p := c.Person(person); p != nil && p.PagerDuty != nil && p.PagerDuty.RoutingKey.IsSet() {
		return Route("person:" + person)
	}
	if s := c.Service(service); s != nil && s.PagerDuty != nil && s.PagerDuty.RoutingKey.IsSet() && (s.Owner == person || s.Backup == person) {
		return Route("service:" + service)
	}
	if c.PagerDuty != nil && c.PagerDuty.RoutingKey.IsSet() {
		return "room"
	}
	return ""
}

// PagerDutyKey is the route's routing key secret (unset when the route is not
// configured).
func (c *Config) PagerDutyKey(r Route) Secret {
	kind, id, _ := strings.Cut(string(r), ":")
	switch kind {
	case "person":
		if p := c.Person(id); p != nil && p.PagerDuty != nil {
			return p.PagerDuty.RoutingKey
		}
	case "service":
		if s := c.Service(id); s != nil && s.PagerDuty != nil {
			return s.PagerDuty.RoutingKey
		}
	case "room":
		if c.PagerDuty != nil {
			return c.PagerDuty.RoutingKey
		}
	}
	return Secret{}
}

// Paging reports whether any page can go to PagerDuty.
func (c *Config) Paging() bool {
	if c.PagerDuty != nil && c.PagerDuty.RoutingKey.IsSet() {
		return true
	}
	for _, p := range c.Roster {
		if p.PagerDuty != nil && p.PagerDuty.RoutingKey.IsSet() {
			return true
		}
	}
	for _, s := range c.Services {
		if s.PagerDuty != nil && s.PagerDuty.RoutingKey.IsSet() {
			return true
		}
	}
	return false
}

// PersonByPagerDutyUser is the roster handle of PagerDuty user id.
func (c *Config) PersonByPagerDutyUser(id string) (string, bool) {
	if id == "" {
		return "", false
	}
	for _, p := range c.Roster {
		if p.PagerDuty != nil && p.PagerDuty.User == id {
			return p.Handle, true
		}
	}
	return "", false
}

// Notifies reports whether the person wants terminal notifications
// (bell and desktop notification; default yes).
func (p *Person) Notifies() bool { return p == nil || p.Notify == nil || *p.Notify }

// PagerDuty object IDs are upper-case letters and digits (PLH1HKV).
var pdUserID = regexp.MustCompile(`^[A-Z0-9]{5,20}$`)

func (v *validator) paging() {
	if pd := v.c.PagerDuty; pd != nil && pd.EventsURL != "" {
		v.url("pagerduty.events_url", pd.EventsURL)
	}
	users := map[string]string{}
	for i, person := range v.c.Roster {
		pd := person.PagerDuty
		if pd == nil || pd.User == "" {
			continue
		}
		p := fmt.Sprintf("roster[%d].pagerduty.user", i)
		switch first, dup := users[pd.User]; {
		case !pdUserID.MatchString(pd.User):
			v.at(p, "invalid PagerDuty user ID "+quoteShort(pd.User), "the ID in the user's profile URL (…/users/PLH1HKV), not their name or email")
		case dup:
			v.at(p, "PagerDuty user "+pd.User+" is already someone else's", fmt.Sprintf("first at %s, line %d", first, v.line(first)))
		default:
			users[pd.User] = p
		}
	}
}

func applyPagingDefaults(c *Config) {
	if c.PagerDuty != nil && c.PagerDuty.EventsURL == "" {
		c.PagerDuty.EventsURL = DefaultPagerDutyEventsURL
	}
	if c.PagerDuty != nil {
		c.PagerDuty.EventsURL = strings.TrimSuffix(c.PagerDuty.EventsURL, "/")
	}
}
