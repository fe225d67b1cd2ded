package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zone names validate the same on every machine, even without /usr/share/zoneinfo

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
	"golang.org/x/crypto/ssh"

	"github.com/warroom/warroom/textsafe"
)

// Defaults, applied after validation to fields left unset.
const (
	DefaultInterval            = 15 * time.Second
	DefaultTimeout             = 10 * time.Second
	DefaultEscalationBackup    = 5 * time.Minute
	DefaultEscalationCommander = 10 * time.Minute // or backup + 5m if that is later
	DefaultSlackAPIURL         = "https://slack.com/api/"
	DefaultDatadogSite         = "datadoghq.com"
	DefaultCommitment          = "confirmed"
	DefaultTimezone            = "UTC"

	// MinInterval is the shortest poll interval a source may ask for.
	MinInterval = time.Second
)

// IsSlackChannelID reports whether s is a Slack channel ID (C0123ABCD),
// not a channel's name.
func IsSlackChannelID(s string) bool { return slackChan.MatchString(s) }

// DatadogSites are the sites a datadog source may name; anything else
// (a proxy, a test server) goes in api_url.
var DatadogSites = []string{
	"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
	"ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com",
}

// Commitments are the Solana commitment levels an rpc source may use.
var Commitments = []string{"processed", "confirmed", "finalized"}

var (
	// Ids and handles appear in commands (ack tokens, assign alice) and
	// in Slack, so no spaces or punctuation beyond . - _.
	idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	slackUser = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	slackChan = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
)

const idHint = "use letters, digits, '.', '-' and '_', at most 64, no spaces"

type validator struct {
	d *decoder
	c *Config
}

func validate(d *decoder, c *Config) {
	v := &validator{d: d, c: c}
	v.incident()
	v.escalation()
	sourceIDs := v.sources()
	handles := v.roster()
	v.services(sourceIDs, handles)
	v.roles(handles)
	v.slack()
	v.paging()
	v.launch(handles)
	v.severities()
	v.comms()
	v.journal()
}

// parentPath strips the last .field or [i] from a field path.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// isBad reports whether path or one of its parents failed to decode;
// semantic checks stay quiet there so one mistake gives one error.
func (v *validator) isBad(path string) bool {
	for p := path; ; p = parentPath(p) {
		if v.d.bad[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// has reports whether the file wrote the field (even as an empty value).
func (v *validator) has(path string) bool {
	_, ok := v.d.keys[path]
	return ok
}

// nodeAt finds where to point for path: its value, or for a field that
// is missing, the key of the nearest parent that is written.
func (v *validator) nodeAt(path string) ast.Node {
	if n, ok := v.d.vals[path]; ok {
		if x, _, _ := v.d.deref(n); isImplicitNull(x) {
			if k, ok := v.d.keys[path]; ok {
				return k // "name:" with nothing after it: point at name
			}
		}
		return n
	}
	for p := parentPath(path); ; p = parentPath(p) {
		if k, ok := v.d.keys[p]; ok {
			return k
		}
		if n, ok := v.d.vals[p]; ok {
			return n
		}
		if p == "" {
			return nil
		}
	}
}

func isImplicitNull(n ast.Node) bool {
	x, ok := n.(*ast.NullNode)
	return ok && (x.Token == nil || x.Token.Type == token.ImplicitNullType || x.Token.Position == nil)
}

// at reports a problem with the value at path.
func (v *validator) at(path, msg, hint string) {
	if v.isBad(path) || (v.d.partial && (msg == missing || msg == noServices)) {
		return
	}
	v.d.errorf(v.nodeAt(path), path, msg, hint)
}

// atKey reports a problem with a field being there at all.
func (v *validator) atKey(path, msg, hint string) {
	if v.isBad(path) {
		return
	}
	n, ok := v.d.keys[path]
	if !ok {
		n = v.nodeAt(path)
	}
	v.d.errorf(n, path, msg, hint)
}

func (v *validator) line(path string) int {
	l, _ := nodePos(v.nodeAt(path))
	return l
}

const (
	missing    = "required field is missing"
	noServices = "at least one service is required"
)

// id checks an identifier: present, well formed, unique within seen. It
// reports whether the id is present, so that references to a malformed
// id are not reported a second time as dangling.
func (v *validator) id(path, id, what string, seen map[string]string) bool {
	switch {
	case strings.TrimSpace(id) == "":
		v.at(path, missing, "")
		return false
	case !idPattern.MatchString(id):
		v.at(path, fmt.Sprintf("%s %s is not a valid id", what, quoteShort(id)), idHint)
		return true
	}
	if first, dup := seen[id]; dup {
		v.at(path, fmt.Sprintf("duplicate %s %q", what, id), fmt.Sprintf("first defined at %s, line %d", first, v.line(first)))
		return false
	}
	seen[id] = path
	return true
}

// fmtDur prints 5m rather than 5m0s.
func fmtDur(d Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (v *validator) positive(path string, d Duration) {
	if v.has(path) && d <= 0 {
		v.at(path, "must be a positive duration", "leave it out for the default")
	}
}

func (v *validator) url(path, s string) {
	if err := checkEnvRefs(s); err != nil {
		v.at(path, "malformed ${...} reference", "write ${NAME}; names are letters, digits and _")
		return
	}
	// ${NAME} is expanded only at run time; check the shape around it.
	u, err := url.Parse(envRef.ReplaceAllString(s, "0"))
	switch {
	case err != nil:
		v.at(path, "invalid URL "+quoteShort(s), "")
	case u.Scheme != "http" && u.Scheme != "https":
		v.at(path, "URL scheme must be http or https, got "+quoteShort(s), "write e.g. http://127.0.0.1:9090")
	case u.Host == "":
		v.at(path, "URL has no host", "write e.g. http://127.0.0.1:9090")
	}
}

func (v *validator) requiredURL(path, s string) {
	if strings.TrimSpace(s) == "" {
		v.at(path, missing, "write e.g. url: http://127.0.0.1:9090")
		return
	}
	v.url(path, s)
}

// ref checks a reference to a roster handle.
func (v *validator) ref(path, handle string, handles []string) {
	if handle != "" && !slices.Contains(handles, handle) {
		v.at(path, fmt.Sprintf("%s is not on the roster", quoteShort(handle)), suggest(handle, handles, "roster handles"))
	}
}

// name checks text people read in terminals, exports and Slack (names,
// titles, units): it may not carry controls, escape sequences or bidi
// characters, which could restyle or reorder what is around it.
func (v *validator) name(path, s string) {
	for _, r := range s {
		if textsafe.Unsafe(r) {
			v.at(path, fmt.Sprintf("%s contains %U, a control, escape or bidi character", quoteShort(s), r),
				"names are shown in terminals and Slack; write them on one line without such characters")
			return
		}
	}
}

func (v *validator) incident() {
	in := v.c.Incident
	if strings.TrimSpace(in.Name) == "" {
		v.at("incident.name", missing, "name the war room, e.g. name: JUP airdrop war room")
	}
	v.name("incident.name", in.Name)
	switch tz := in.Timezone; tz {
	case "":
	case "Local":
		v.at("incident.timezone", "Local depends on the machine", "name a zone such as UTC or America/Los_Angeles")
	default:
		if _, err := time.LoadLocation(tz); err != nil {
			v.at("incident.timezone", "unknown time zone "+quoteShort(tz), "use an IANA zone name such as UTC, America/Los_Angeles or Europe/Paris")
		}
	}
}

func (v *validator) escalation() {
	e := v.c.Escalation
	v.positive("escalation.backup", e.Backup)
	v.positive("escalation.commander", e.Commander)
	if e.Backup > 0 && e.Commander > 0 && e.Commander < e.Backup {
		v.at("escalation.commander", fmt.Sprintf("commander (%s) is paged before backup (%s)", fmtDur(e.Commander), fmtDur(e.Backup)),
			"escalation goes owner → backup → commander")
	}
	if v.has("escalation.owner") {
		v.positive("escalation.owner", e.Owner)
		backup := e.Backup
		if backup == 0 {
			backup = Duration(DefaultEscalationBackup)
		}
		if e.Owner >= backup {
			v.at("escalation.owner", fmt.Sprintf("the owner (%s) is paged no earlier than the backup (%s)", fmtDur(e.Owner), fmtDur(backup)),
				"escalation goes owner → backup → commander; page the owner sooner, e.g. 1m")
		}
	}
}

func article(t SourceType) string {
	if t == SourceRPC {
		return "an rpc"
	}
	return "a " + string(t)
}

func (v *validator) sources() []string {
	seen := map[string]string{}
	var ids []string
	for i, s := range v.c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		if v.id(p+".id", s.ID, "source id", seen) {
			ids = append(ids, s.ID)
		}
		types := []string{string(SourceDatadog), string(SourcePrometheus), string(SourceRPC)}
		switch s.Type {
		case "":
			v.at(p+".type", missing, "one of datadog, prometheus, rpc")
		case SourceDatadog, SourcePrometheus, SourceRPC:
		default:
			v.at(p+".type", "unknown source type "+quoteShort(string(s.Type)), suggest(string(s.Type), types, "one of"))
		}
		v.positive(p+".interval", s.Interval)
		if s.Interval > 0 && s.Interval.D() < MinInterval {
			v.at(p+".interval", "must be at least "+MinInterval.String(), "providers rate-limit, and a dashboard needs no more than one sample a second")
		}
		v.positive(p+".timeout", s.Timeout)

		notFor := func(fields ...string) {
			for _, f := range fields {
				if v.has(p + "." + f) {
					v.atKey(p+"."+f, fmt.Sprintf("%s does not apply to %s source", f, article(s.Type)), "")
				}
			}
		}
		switch s.Type {
		case SourceDatadog:
			notFor("url", "chain", "commitment", "alertmanager_url")
			switch {
			case s.Site != "" && s.APIURL != "":
				v.at(p+".api_url", "set either site or api_url, not both", "api_url is for proxies and test servers")
			case s.Site != "" && !slices.Contains(DatadogSites, s.Site):
				v.at(p+".site", "unknown Datadog site "+quoteShort(s.Site), siteHint(s.Site))
			case s.APIURL != "":
				v.url(p+".api_url", s.APIURL)
			}
			if !s.APIKey.IsSet() {
				v.at(p+".api_key", missing, "write api_key: ${DD_API_KEY}")
			}
			if !s.AppKey.IsSet() {
				v.at(p+".app_key", missing, "write app_key: ${DD_APP_KEY}")
			}
		case SourcePrometheus:
			notFor("site", "api_url", "api_key", "app_key", "chain", "commitment", "monitors")
			v.requiredURL(p+".url", s.URL)
			if v.has(p + ".alertmanager_url") {
				v.requiredURL(p+".alertmanager_url", s.AlertmanagerURL)
			}
		case SourceRPC:
			notFor("site", "api_url", "api_key", "app_key", "import_alerts", "monitors", "alertmanager_url", "severity", "drop")
			v.requiredURL(p+".url", s.URL)
			chains := []string{string(ChainSolana), string(ChainEVM)}
			switch s.Chain {
			case "":
				v.at(p+".chain", missing, "solana or evm")
			case ChainSolana:
				if s.Commitment != "" && !slices.Contains(Commitments, s.Commitment) {
					v.at(p+".commitment", "unknown commitment "+quoteShort(s.Commitment), suggest(s.Commitment, Commitments, "one of"))
				}
			case ChainEVM:
				if v.has(p + ".commitment") {
					v.atKey(p+".commitment", "commitment does not apply to an evm rpc source", "it is a Solana setting")
				}
			default:
				v.at(p+".chain", "unknown chain "+quoteShort(string(s.Chain)), suggest(string(s.Chain), chains, "one of"))
			}
		}
		if s.Type == SourceDatadog || s.Type == SourcePrometheus {
			v.severityMap(p+".severity", s.SeverityMap)
			v.matcherList(p+".drop", s.Drop)
		}
	}
	return ids
}

// severityMap checks a severity: override: each value under one level.
func (v *validator) severityMap(p string, m *SeverityMap) {
	if m == nil {
		return
	}
	seen := map[string]string{}
	for _, lv := range []struct {
		name  string
		names []string
	}{{"crit", m.Crit}, {"warn", m.Warn}, {"info", m.Info}} {
		for i, n := range lv.names {
			ip := fmt.Sprintf("%s.%s[%d]", p, lv.name, i)
			key := strings.ToLower(strings.TrimSpace(n))
			if key == "" {
				v.at(ip, "empty severity", "write the label value or Datadog state, e.g. critical")
				continue
			}
			if first, dup := seen[key]; dup {
				v.at(ip, quoteShort(n)+" is listed twice", fmt.Sprintf("first at %s, line %d; a severity maps to one level", first, v.line(first)))
				continue
			}
			seen[key] = ip
		}
	}
	if m.Default != "" && !slices.Contains(Severities, string(m.Default)) {
		v.at(p+".default", "unknown severity "+quoteShort(string(m.Default)), suggest(string(m.Default), Severities, "one of"))
	}
}

// matcherList checks a list of matcher sets (drop:, alerts:).
func (v *validator) matcherList(p string, items []string) {
	for i, it := range items {
		if _, err := ParseMatchers(it); err != nil {
			v.at(fmt.Sprintf("%s[%d]", p, i), "bad matcher: "+err.Error(), `write label=value, label!=value, label=~regex or label!~regex, comma-separated, e.g. alertname=Watchdog`)
		}
	}
}

func siteHint(site string) string {
	h := suggest(site, DatadogSites, "known sites")
	if strings.HasSuffix(h, "?") {
		return h + " Other hosts go in api_url"
	}
	return h + "; other hosts go in api_url"
}

func (v *validator) roster() []string {
	seen := map[string]string{}
	slackIDs := map[string]string{}
	keys := map[string]string{} // fingerprint → path of first use
	var handles []string
	for i, person := range v.c.Roster {
		p := fmt.Sprintf("roster[%d]", i)
		if v.id(p+".handle", person.Handle, "handle", seen) {
			handles = append(handles, person.Handle)
		}
		v.name(p+".name", person.Name)
		if s := person.Slack; s != "" {
			switch first, dup := slackIDs[s]; {
			case !slackUser.MatchString(s):
				v.at(p+".slack", "invalid Slack user ID "+quoteShort(s), "the member ID (U024BE7LH) from the profile, not the display name")
			case dup:
				v.at(p+".slack", "Slack user ID "+s+" is already used", fmt.Sprintf("first at %s, line %d", first, v.line(first)))
			default:
				slackIDs[s] = p + ".slack"
			}
		}
		for j, line := range person.SSHKeys {
			kp := fmt.Sprintf("%s.ssh_keys[%d]", p, j)
			pub, _, opts, rest, err := ssh.ParseAuthorizedKey([]byte(line))
			switch {
			case err != nil:
				v.at(kp, "not an SSH public key", "paste one line of ~/.ssh/id_ed25519.pub or authorized_keys")
				continue
			case len(opts) > 0:
				v.at(kp, "authorized_keys options are not supported", "remove "+quoteShort(strings.Join(opts, ","))+"; warroom does not enforce them")
				continue
			case len(strings.TrimSpace(string(rest))) > 0:
				v.at(kp, "more than one key in one entry", "put each key in its own list item")
				continue
			}
			fp := ssh.FingerprintSHA256(pub)
			if first, dup := keys[fp]; dup {
				v.at(kp, "SSH key "+fp+" is listed twice", fmt.Sprintf("first at %s, line %d; a key identifies one person", first, v.line(first)))
				continue
			}
			keys[fp] = kp
		}
	}
	return handles
}

func (v *validator) services(sourceIDs, handles []string) {
	if len(v.c.Services) == 0 {
		v.at("services", noServices, "list the services the war room watches")
	}
	seen := map[string]string{}
	for i, s := range v.c.Services {
		p := fmt.Sprintf("services[%d]", i)
		v.id(p+".id", s.ID, "service id", seen)
		v.name(p+".name", s.Name)
		v.ref(p+".owner", s.Owner, handles)
		v.ref(p+".backup", s.Backup, handles)
		if s.Backup != "" && s.Backup == s.Owner {
			v.at(p+".backup", "backup is the same person as the owner", "name a second person, or leave backup out")
		}
		for j, tag := range s.DatadogTags {
			if strings.TrimSpace(tag) == "" || strings.ContainsAny(tag, " \t,") {
				v.at(fmt.Sprintf("%s.datadog_tags[%d]", p, j), "invalid Datadog tag "+quoteShort(tag), "a tag is key:value or a bare word, without spaces or commas, e.g. functionname:tokens")
			}
		}
		panes := map[string]string{}
		for j, pane := range s.Panes {
			v.pane(fmt.Sprintf("%s.panes[%d]", p, j), pane, sourceIDs, panes)
		}
	}
}

func (v *validator) pane(p string, pane Pane, sourceIDs []string, seen map[string]string) {
	v.id(p+".id", pane.ID, "pane id", seen)
	v.name(p+".title", pane.Title)
	v.name(p+".unit", pane.Unit)
	var src *Source
	switch {
	case pane.Source == "":
		v.at(p+".source", missing, "name one of the sources by id")
	case !slices.Contains(sourceIDs, pane.Source):
		v.at(p+".source", "unknown source "+quoteShort(pane.Source), suggest(pane.Source, sourceIDs, "sources"))
	default:
		src = v.c.Source(pane.Source)
	}
	switch {
	case strings.TrimSpace(pane.Query) == "":
		v.at(p+".query", missing, "")
	case src != nil && src.Type == SourceRPC && !slices.Contains(RPCMetrics, pane.Query):
		v.at(p+".query", "unknown rpc metric "+quoteShort(pane.Query), "one of "+strings.Join(RPCMetrics, ", "))
	}

	dir := pane.Direction
	switch dir {
	case "":
		dir = Above
	case Above, Below:
	default:
		v.at(p+".direction", "unknown direction "+quoteShort(string(dir)), "above (high is bad) or below (low is bad)")
		return // the threshold order cannot be checked without it
	}
	// worse reports whether a is on the bad side of b.
	worse := func(a, b float64) bool {
		if dir == Above {
			return a > b
		}
		return a < b
	}
	side, other := "above", "below"
	if dir == Below {
		side, other = "below", "above"
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

	if pane.Warn != nil && pane.Crit != nil && !worse(*pane.Crit, *pane.Warn) {
		v.at(p+".crit", fmt.Sprintf("crit (%s) must be %s warn (%s) for direction %s", f(*pane.Crit), side, f(*pane.Warn), dir),
			"with direction above, high values are bad; with below, low values are")
	}
	if pane.Clear != nil {
		ref, name := pane.Warn, "warn"
		if ref == nil {
			ref, name = pane.Crit, "crit"
		}
		switch {
		case ref == nil:
			v.atKey(p+".clear", "clear needs warn or crit", "clear is the level an alert must recover past")
		case !worse(*ref, *pane.Clear):
			v.at(p+".clear", fmt.Sprintf("clear (%s) must be %s %s (%s) for direction %s", f(*pane.Clear), other, name, f(*ref), dir),
				"clear is on the good side of "+name+", so the alert does not flap")
		}
	}
	switch pane.NoData {
	case "", NoDataShow, NoDataAlert, NoDataZero:
	default:
		v.at(p+".no_data", "unknown no_data policy "+quoteShort(string(pane.NoData)), "show (grey NO DATA, no alert), alert or zero")
	}
	if v.has(p + ".delay") {
		switch {
		case pane.Delay < 0:
			v.at(p+".delay", "must not be negative", "how far back a late metric is read, e.g. 15m for AWS metrics")
		case src != nil && src.Type != SourceDatadog:
			v.atKey(p+".delay", "delay applies to datadog panes", "Datadog's AWS metrics arrive late; "+string(src.Type)+" answers are current")
		}
	}
	v.matcherList(p+".alerts", pane.Alerts)
	if v.has(p + ".for") {
		switch {
		case pane.For < 0:
			v.at(p+".for", "must not be negative", "0 fires on the first breach")
		case pane.Warn == nil && pane.Crit == nil:
			v.atKey(p+".for", "for needs warn or crit", "for is how long a breach lasts before the alert fires")
		}
	}
}

func (v *validator) roles(handles []string) {
	r := v.c.Roles
	if r.Commander == "" {
		v.at("roles.commander", missing, "the war room has exactly one commander; name a roster handle")
	}
	v.ref("roles.commander", r.Commander, handles)
	v.ref("roles.deputy", r.Deputy, handles)
	v.ref("roles.scribe", r.Scribe, handles)
	v.ref("roles.comms", r.Comms, handles)
	if r.Deputy != "" && r.Deputy == r.Commander {
		v.at("roles.deputy", "the deputy is the commander", "the deputy takes over if the commander is out; name someone else")
	}
}

func (v *validator) slack() {
	s := v.c.Slack
	if s == nil {
		return
	}
	switch {
	case s.Channel == "":
		v.at("slack.channel", missing, "the channel ID, e.g. C0123ABCD")
	case !slackChan.MatchString(s.Channel):
		v.at("slack.channel", "invalid Slack channel ID "+quoteShort(s.Channel), "the channel ID (C0123ABCD, in the channel's details), not its name")
	}
	if !s.BotToken.IsSet() {
		v.at("slack.bot_token", missing, "write bot_token: ${SLACK_BOT_TOKEN}")
	}
	if s.APIURL != "" {
		v.url("slack.api_url", s.APIURL)
	}
}

// applyDefaults fills what the file left unset. It runs only on a valid
// config, so it can trust types and references.
func applyDefaults(c *Config) {
	if c.Incident.Timezone == "" {
		c.Incident.Timezone = DefaultTimezone
	}
	e := &c.Escalation
	if e.Backup == 0 {
		e.Backup = Duration(DefaultEscalationBackup)
	}
	if e.Commander == 0 {
		// Keep owner → backup → commander in order when backup is long.
		e.Commander = Duration(max(DefaultEscalationCommander, e.Backup.D()+5*time.Minute))
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Interval == 0 {
			s.Interval = Duration(DefaultInterval)
		}
		if s.Timeout == 0 {
			s.Timeout = Duration(DefaultTimeout)
		}
		if s.Type == SourceDatadog && s.Site == "" && s.APIURL == "" {
			s.Site = DefaultDatadogSite
		}
		if s.Type == SourceRPC && s.Chain == ChainSolana && s.Commitment == "" {
			s.Commitment = DefaultCommitment
		}
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.Name == "" {
			s.Name = s.ID
		}
		for j := range s.Panes {
			p := &s.Panes[j]
			if p.Title == "" {
				p.Title = p.ID
			}
			if p.Direction == "" {
				p.Direction = Above
			}
			if p.NoData == "" {
				p.NoData = NoDataShow
			}
		}
	}
	for i := range c.Roster {
		if c.Roster[i].Name == "" {
			c.Roster[i].Name = c.Roster[i].Handle
		}
	}
	applyLaunchDefaults(c)
	applyCommsDefaults(c)
	applyPagingDefaults(c)
	if c.Slack != nil {
		if c.Slack.APIURL == "" {
			c.Slack.APIURL = DefaultSlackAPIURL
		}
		// slack-go appends method names to the base URL.
		if !strings.HasSuffix(c.Slack.APIURL, "/") {
			c.Slack.APIURL += "/"
		}
	}
}

// Location is the incident's time zone (UTC when unset).
func (i Incident) Location() *time.Location {
	if i.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(i.Timezone)
	if err != nil {
		return time.UTC // cannot happen after Parse: the zone was validated
	}
	return loc
}

// PlaybooksDir is the playbooks directory, resolved against the
// directory of the war-room file when relative; "" when not configured.
func (c *Config) PlaybooksDir() string {
	if c.Playbooks == "" || filepath.IsAbs(c.Playbooks) || c.Path == "" {
		return c.Playbooks
	}
	return filepath.Join(filepath.Dir(c.Path), c.Playbooks)
}
