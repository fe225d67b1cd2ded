// Package config reads and validates the war-room file.
//
// The file is YAML, decoded strictly: unknown fields, wrong types, bad
// durations and dangling references are all reported in one pass as
// file:line:col: field.path: message (hint).
package config

import (
	"os"
	"regexp"
	"time"
)

// Config is a whole war-room file after validation.
type Config struct {
	// Path is the file the config was read from; relative paths in it
	// (the playbooks directory) are resolved against its directory.
	Path string `yaml:"-"`

	Incident   Incident   `yaml:"incident"`
	Escalation Escalation `yaml:"escalation"`
	Playbooks  string     `yaml:"playbooks"`
	// Journal is where the room's journal lives: a SQLite file (relative
	// to the war-room file) or a postgres:// URL whose password is a
	// ${NAME} reference. --journal overrides it. See JournalLocation.
	Journal  string    `yaml:"journal"`
	Sources  []Source  `yaml:"sources"`
	Services []Service `yaml:"services"`
	Roster   []Person  `yaml:"roster"`
	Roles    Roles     `yaml:"roles"`
	Slack    *Slack    `yaml:"slack"`
	// PagerDuty pages people through PagerDuty and takes their
	// acknowledgements back (see paging.go).
	PagerDuty *PagerDuty `yaml:"pagerduty"`
	// Launch is the optional launch plan (checkpoints, go/no-go criteria,
	// the baseline window), counted from incident.launch.
	Launch *Launch `yaml:"launch"`
	// Comms is optional: without it, severity, status and updates still
	// work, with no templates, components, cadence or Statuspage.
	Comms *Comms `yaml:"comms"`
}

// Incident names the war room.
type Incident struct {
	Name string `yaml:"name"`
	// Launch is the optional T-0; before it the header counts down and
	// the launch plan (the launch section) counts from it.
	Launch *time.Time `yaml:"launch"`
	// Timezone is an IANA zone name for local times in the TUI and exports.
	Timezone string `yaml:"timezone"`
	// Simulated marks a run against the simulator; the UI says so.
	Simulated bool `yaml:"simulated"`
	// Drill names the injects of a drill (warroom drill); every screen
	// says DRILL. Set by the drill, never in the file.
	Drill string `yaml:"-"`
	// Severities names SEV1…SEV4.
	Severities SeverityNames `yaml:"severities"`
}

// Escalation delays for unacknowledged alerts: owner → backup → commander.
type Escalation struct {
	// Owner, when set, pages the service's owner after this (0: the owner
	// is told in the room and Slack as the alert fires, never paged).
	Owner     Duration `yaml:"owner"`
	Backup    Duration `yaml:"backup"`    // after this, the backup is paged
	Commander Duration `yaml:"commander"` // after this, the commander is paged
}

// SourceType is one of the supported source kinds.
type SourceType string

const (
	SourceDatadog    SourceType = "datadog"
	SourcePrometheus SourceType = "prometheus"
	SourceRPC        SourceType = "rpc"
)

// Chain is the kind of blockchain an RPC provider serves.
type Chain string

const (
	ChainSolana Chain = "solana"
	ChainEVM    Chain = "evm"
)

// Source is one data source. Fields that do not apply to its type are
// rejected by validation.
type Source struct {
	ID       string     `yaml:"id"`
	Type     SourceType `yaml:"type"`
	Interval Duration   `yaml:"interval"` // default 15s
	Timeout  Duration   `yaml:"timeout"`  // default 10s

	// Datadog: Site (datadoghq.com, datadoghq.eu, …) or APIURL (a full
	// base URL such as http://127.0.0.1:8126 for proxies and tests).
	Site   string `yaml:"site"`
	APIURL string `yaml:"api_url"`
	APIKey Secret `yaml:"api_key"`
	AppKey Secret `yaml:"app_key"`

	// Prometheus and RPC: the base URL. It may contain ${ENV} references
	// (RPC URLs often embed a token); they are expanded at run time only.
	URL string `yaml:"url"`

	// ImportAlerts (Datadog, Prometheus) brings the source's own alerts
	// (monitors, firing rules) into the room; default true. An imported
	// alert about a pane's metric joins that pane's alert group, so rules
	// that repeat the room's thresholds do not page twice.
	ImportAlerts *bool `yaml:"import_alerts"`

	// Monitors (Datadog) is a monitor search query in Datadog's syntax,
	// e.g. tag:"team:launch", that selects the monitor groups imported.
	// Without it, only groups whose monitor tags (all_tags) or group tags
	// name a room service are imported.
	Monitors string `yaml:"monitors"`

	// AlertmanagerURL (Prometheus) is the Alertmanager this Prometheus
	// sends its alerts to. It is then the authority for the source's
	// alerts: they are read from its API (silences and inhibitions hold)
	// and match the alerts its webhook posts to /api/alertmanager.
	AlertmanagerURL string `yaml:"alertmanager_url"`

	// SeverityMap (Datadog, Prometheus) overrides DefaultSeverities.
	SeverityMap *SeverityMap `yaml:"severity"`
	// Drop (Datadog, Prometheus) lists matcher sets of imported alerts to
	// leave out, e.g. "alertname=Watchdog".
	Drop []string `yaml:"drop"`

	// RPC only.
	Chain      Chain  `yaml:"chain"`
	Commitment string `yaml:"commitment"` // solana: processed|confirmed|finalized
}

// Imports reports whether the source's own alerts are imported.
func (s Source) Imports() bool { return s.ImportAlerts == nil || *s.ImportAlerts }

// PollInterval is how often the source polls: its interval, or
// DefaultInterval for a source that does not set one (a config built in
// code; Parse applies the default).
func (s Source) PollInterval() time.Duration {
	if s.Interval > 0 {
		return s.Interval.D()
	}
	return DefaultInterval
}

// PollTimeout bounds each of the source's queries: its timeout, or
// DefaultTimeout.
func (s Source) PollTimeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout.D()
	}
	return DefaultTimeout
}

// Service is one pane group on the dashboard, with its owners.
type Service struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	Owner  string `yaml:"owner"`  // roster handle of the point of contact
	Backup string `yaml:"backup"` // roster handle of the backup
	Panes  []Pane `yaml:"panes"`
	// DatadogTags are monitor or group tags that name this service besides
	// service:<id>, e.g. functionname:tokens.
	DatadogTags []string `yaml:"datadog_tags"`
	// PagerDuty is the service's own integration, for pages to its owner
	// and backup.
	PagerDuty *ServicePagerDuty `yaml:"pagerduty"`
}

// Direction says which side of a threshold is bad.
type Direction string

const (
	Above Direction = "above" // default: high values are bad
	Below Direction = "below" // low values are bad (e.g. success rate)
)

// Pane is one query and its alert rule.
type Pane struct {
	ID     string `yaml:"id"`
	Title  string `yaml:"title"`
	Source string `yaml:"source"` // a Source.ID
	// Query is the source's query language: a Datadog metric query, PromQL,
	// or for an RPC source one of RPCMetrics.
	Query string `yaml:"query"`
	Unit  string `yaml:"unit"`

	Warn      *float64  `yaml:"warn"`
	Crit      *float64  `yaml:"crit"`
	Clear     *float64  `yaml:"clear"` // hysteresis: the alert clears only past this
	For       Duration  `yaml:"for"`   // how long a breach must last before firing
	Direction Direction `yaml:"direction"`

	// NoData is what an answer with no series means (default show).
	NoData NoData `yaml:"no_data"`
	// Delay (Datadog) evaluates the pane this far in the past, as
	// Datadog's own monitors do for late metrics (AWS: 10-20 minutes).
	Delay Duration `yaml:"delay"`
	// Alerts lists matcher sets of imported alerts that are about this
	// pane (e.g. "monitor_id=10004"); they join the pane's alert group.
	// Alerts about one of the pane's metrics join it without this.
	Alerts []string `yaml:"alerts"`
}

// RPCMetrics are the derived per-provider metrics an RPC pane can show.
var RPCMetrics = []string{"latency_p50", "latency_p95", "error_rate", "rate_429", "lag", "slot", "health"}

// Person is someone on the roster.
type Person struct {
	Handle  string   `yaml:"handle"`
	Name    string   `yaml:"name"`
	Slack   string   `yaml:"slack"`    // Slack user ID, e.g. U024BE7LH
	SSHKeys []string `yaml:"ssh_keys"` // authorized_keys lines
	// PagerDuty is how PagerDuty knows them (user ID, own integration).
	PagerDuty *PersonPagerDuty `yaml:"pagerduty"`
	// Notify turns their terminal notifications (bell, desktop
	// notification) on or off; default on.
	Notify *bool `yaml:"notify"`
}

// Roles are the incident roles held at the start of the incident.
type Roles struct {
	Commander string `yaml:"commander"`
	Deputy    string `yaml:"deputy"`
	Scribe    string `yaml:"scribe"`
	Comms     string `yaml:"comms"`
}

// Slack configures the mirror.
type Slack struct {
	APIURL   string `yaml:"api_url"` // default https://slack.com/api/
	Channel  string `yaml:"channel"` // channel ID
	BotToken Secret `yaml:"bot_token"`
	AppToken Secret `yaml:"app_token"` // Socket Mode (xapp-…)
}

// Duration is a time.Duration written as Go duration text ("30s", "5m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Secret is a reference to an environment variable, written ${NAME}.
// Only the name is kept; the value is read when needed and never stored
// in the config, the journal or any output.
type Secret struct {
	Env string
}

var secretRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// Value reads the secret from the environment.
func (s Secret) Value() string {
	if s.Env == "" {
		return ""
	}
	v := os.Getenv(s.Env)
	remember(s.Env, v) // so Redact can take it back out of any output
	return v
}

// IsSet reports whether the file named a secret at all.
func (s Secret) IsSet() bool { return s.Env != "" }

// Lookup helpers used across packages.

// Service returns the service with the given id, or nil.
func (c *Config) Service(id string) *Service {
	for i := range c.Services {
		if c.Services[i].ID == id {
			return &c.Services[i]
		}
	}
	return nil
}

// Pane returns a service's pane, or nil.
func (c *Config) Pane(service, pane string) *Pane {
	svc := c.Service(service)
	if svc == nil {
		return nil
	}
	for i := range svc.Panes {
		if svc.Panes[i].ID == pane {
			return &svc.Panes[i]
		}
	}
	return nil
}

// Source returns the source with the given id, or nil.
func (c *Config) Source(id string) *Source {
	for i := range c.Sources {
		if c.Sources[i].ID == id {
			return &c.Sources[i]
		}
	}
	return nil
}

// Person returns the roster entry with the given handle, or nil.
func (c *Config) Person(handle string) *Person {
	for i := range c.Roster {
		if c.Roster[i].Handle == handle {
			return &c.Roster[i]
		}
	}
	return nil
}
