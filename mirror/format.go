package mirror

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// Escape makes text inert in Slack mrkdwn: &, < and > become &amp;, &lt;
// and &gt;, so nothing in it can form <!channel>, <!here>, <@U…>, <#C…>
// or a <url|label> link, and controls, escape sequences and bidi
// characters are made visible (textsafe.Text). Every piece of text that
// came from a person, a metric label or a config file goes through it;
// only the mirror's own mentions (built from roster Slack IDs) are
// written unescaped.
func Escape(s string) string {
	s = textsafe.Text(s)
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return escaper.Replace(s)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackID accepts only real user IDs, so that a mention can never carry
// anything else even if a roster was built without validation.
var slackID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// Limits the mirror keeps well under Slack's (40,000 chars of text,
// 3,000 per section block, 50 blocks).
const (
	maxSingleText  = 3500  // user text in a message of its own
	maxDigestText  = 400   // user text per event in a digest
	maxAlertText   = 300   // user text per line of an alert message
	maxAlertLines  = 14    // lines in an alert message; later events go to its thread
	maxSectionText = 2900  // one section block
	maxMessageText = 20000 // any message we post (Slack's limit is 40,000)
	maxDigestChars = 4000  // a digest: Slack's advice for readable messages
)

const ackAction = "warroom_ack"

type formatter struct {
	roster *roles.Roster
	// named are the firing alerts whose message names the owner without
	// a mention (see Options.OwnerPages), by seq.
	named map[int64]bool
}

// clip shortens s to at most n runes (before escaping, so that no entity
// is cut in half).
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// user renders user-supplied text: one inert line, clipped, escaped.
func user(s string, n int) string { return Escape(clip(textsafe.Line(s), n)) }

// mention is the mirror's own mention of a roster person: <@U…> when the
// roster knows their Slack ID, followed by the escaped handle.
func (f *formatter) mention(handle string) string {
	if handle == "" {
		return ""
	}
	if p, ok := f.roster.Get(handle); ok && slackID.MatchString(p.SlackID) {
		return "<@" + p.SlackID + "> (" + Escape(handle) + ")"
	}
	return Escape(handle)
}

func stamp(t time.Time) string { return t.UTC().Format("15:04:05Z") }

func kindEmoji(ev incident.Event) string {
	switch ev.Kind {
	case incident.KindDeclare:
		return ":rotating_light:"
	case incident.KindNote:
		return ":memo:"
	case incident.KindAlert:
		if ev.Alert != nil {
			return levelEmoji(ev.Alert.Level)
		}
		return ":warning:"
	case incident.KindAck:
		return ":eyes:"
	case incident.KindResolve:
		return ":white_check_mark:"
	case incident.KindEscalate, incident.KindPage:
		return ":rotating_light:"
	case incident.KindRole, incident.KindOffer, incident.KindAccept, incident.KindDecline:
		return ":busts_in_silhouette:"
	case incident.KindImportant:
		return ":star:"
	case incident.KindSource:
		return ":satellite_antenna:"
	case incident.KindRun:
		return ":hammer_and_wrench:"
	case incident.KindMirror:
		return ":electric_plug:"
	case incident.KindStorage:
		return ":floppy_disk:"
	case incident.KindClock:
		return ":clock3:"
	case incident.KindSeverity, incident.KindStatus:
		return ":vertical_traffic_light:"
	case incident.KindMarker:
		return ":round_pushpin:"
	case incident.KindComponent:
		return ":jigsaw:"
	case incident.KindUpdate:
		return ":mega:"
	case incident.KindDelivery:
		return ":outbox_tray:"
	case incident.KindOverdue:
		return ":alarm_clock:"
	case incident.KindFollowUp:
		return ":pushpin:"
	}
	return ":grey_question:"
}

func levelEmoji(l incident.Level) string {
	switch l {
	case incident.LevelCrit:
		return ":red_circle:"
	case incident.LevelWarn:
		return ":large_orange_circle:"
	case incident.LevelStale:
		return ":hourglass:"
	case incident.LevelNoData:
		return ":white_circle:"
	}
	return ":grey_question:"
}

func levelName(l incident.Level) string {
	switch l {
	case incident.LevelNoData:
		return "NO DATA"
	case "":
		return "ALERT"
	}
	return strings.ToUpper(string(l))
}

// line renders one event as a timeline line:
//
//	`#42` 14:03:05Z :memo: *NOTE* tokens — *alice*: text
//
// Every line starts with the event's seq in backticks, so humans and
// tools can match Slack against the journal.
func (f *formatter) line(ev incident.Event, important bool, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`#%d` %s ", ev.Seq, stamp(ev.Time))
	if important {
		b.WriteString(":star: ")
	}
	fmt.Fprintf(&b, "%s *%s*", kindEmoji(ev), ev.Kind)
	if ev.Service != "" {
		b.WriteString(" " + user(ev.Service, 60))
	}
	b.WriteString(" — ")
	b.WriteString(f.body(ev, n))
	return b.String()
}

// body is the kind-specific text of an event.
func (f *formatter) body(ev incident.Event, n int) string {
	text := user(ev.Text, n)
	switch ev.Kind {
	case incident.KindDeclare:
		s := "*Incident declared:* " + text
		if ev.Setup != nil && ev.Setup.Commander != "" {
			s += " — commander " + f.mention(ev.Setup.Commander)
		}
		return s
	case incident.KindNote:
		return "*" + user(ev.Actor, 60) + "*: " + text
	case incident.KindAlert, incident.KindAck, incident.KindResolve:
		if ev.Alert != nil && !strings.Contains(ev.Text, ev.Alert.ID) {
			return "`" + user(ev.Alert.ID, 20) + "` " + text
		}
		return text
	case incident.KindPage:
		if ev.Page != nil && ev.Page.To != "" {
			return f.mention(ev.Page.To) + " you are paged: " + f.pageItems(ev.Page, n)
		}
		return text
	case incident.KindRole, incident.KindOffer:
		if ev.Role != nil && ev.Role.Handle != "" && f.hasSlack(ev.Role.Handle) {
			return text + " " + f.mention(ev.Role.Handle)
		}
		return text
	case incident.KindAccept:
		if ev.Role != nil && ev.Role.Handle != "" {
			return text + " — " + f.mention(ev.Role.Handle) + " is now the commander"
		}
		return text
	case incident.KindImportant:
		return "*" + text + "*"
	case incident.KindUpdate:
		if u := ev.Update; u != nil && u.State == incident.UpdatePublished && u.Draft != nil {
			return f.publicUpdate(ev, n)
		}
		return text
	case incident.KindOverdue:
		if ev.Life != nil && ev.Life.To != "" {
			return text + " " + f.mention(ev.Life.To)
		}
		return text
	}
	return text
}

// publicUpdate is a published update in its own style: what customers
// read, quoted as it was published, with its status, title and who wrote
// and approved it.
//
//	:mega: *PUBLIC UPDATE U12 — Identified* · "Slow claims" · notify on
//	> We found the cause…
//	_by sam, approved by rosa; on the status page_
func (f *formatter) publicUpdate(ev incident.Event, n int) string {
	u := ev.Update
	d := u.Draft
	var b strings.Builder
	status := d.Status
	if status != "" {
		status = strings.ToUpper(status[:1]) + status[1:]
	}
	fmt.Fprintf(&b, "*PUBLIC UPDATE %s — %s* · \"%s\"", user(u.ID, 20), user(status, 30), user(d.Title, 255))
	if d.Notify {
		b.WriteString(" · subscribers notified")
	} else {
		b.WriteString(" · page only, nobody notified")
	}
	for _, l := range strings.Split(clip(textsafe.Text(d.Body), n), "\n") {
		b.WriteString("\n> " + Escape(l))
	}
	by := "_by " + user(u.By, 60)
	if ev.Actor != "" && ev.Actor != u.By {
		by += ", approved by " + user(ev.Actor, 60)
	}
	b.WriteString("\n" + by + "_")
	return b.String()
}

// pageItems lists what a page is about, each with the seq of its
// ESCALATE so that the page carries those events.
func (f *formatter) pageItems(p *incident.PageInfo, n int) string {
	var b strings.Builder
	if len(p.Items) > 1 || p.More > 0 {
		fmt.Fprintf(&b, "%d alert groups escalated to you", len(p.Items)+p.More)
	}
	per := max(n/max(len(p.Items), 1), 80)
	for i, it := range p.Items {
		if len(p.Items) > 1 || p.More > 0 {
			b.WriteString("\n• ")
		} else if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "`#%d` ", it.Seq)
		if it.Service != "" {
			b.WriteString(user(it.Service, 60) + " ")
		}
		b.WriteString("`" + user(it.Alert, 20) + "` " + user(it.Title, per))
		if it.Count > 1 {
			fmt.Fprintf(&b, " (+%d more alerts)", it.Count-1)
		}
		if it.Step >= 2 {
			b.WriteString(" — as commander")
		}
	}
	if p.More > 0 {
		fmt.Fprintf(&b, "\n• and %d more", p.More)
	}
	return b.String()
}

func (f *formatter) hasSlack(handle string) bool {
	p, ok := f.roster.Get(handle)
	return ok && slackID.MatchString(p.SlackID)
}

// threadText is a reply in an alert message's thread: the events of its
// alerts that came after the message was full.
func threadText(m *alertModel, lines []string, first, last int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":thread: *%s* · `%s` — %s, #%d to #%d", user(m.Service, 60), user(m.ID, 20), incident.Plural(len(lines), "update"), first, last)
	for _, l := range lines {
		b.WriteByte('\n')
		b.WriteString(l)
	}
	return b.String()
}

// digest packs many lines into one message.
func digestText(lines []string, first, last int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":package: *Catching up* — %d events, #%d to #%d", len(lines), first, last)
	for _, l := range lines {
		b.WriteByte('\n')
		b.WriteString(l)
	}
	return b.String()
}

// ---- alert messages ---------------------------------------------------------

// alertModel is what an alert's one message shows. It is stored (as JSON)
// in the outbox row of the message, so a restarted mirror can keep
// updating it, and its Seqs say which events the message already shows.
type alertModel struct {
	ID        string         `json:"id"`
	Service   string         `json:"service,omitempty"`
	Level     incident.Level `json:"level,omitempty"`
	Text      string         `json:"text,omitempty"` // raw alert text (escaped when rendered)
	AckedBy   string         `json:"acked_by,omitempty"`
	Resolved  bool           `json:"resolved,omitempty"`
	Escalated string         `json:"escalated,omitempty"` // who was paged last
	// Group is the alert group the message stands for: later alerts of
	// the group update it. Members counts its alerts, Open those not
	// resolved (0 and 0 for a message written before groups).
	Group   string      `json:"group,omitempty"`
	Members int         `json:"members,omitempty"`
	Open    int         `json:"open,omitempty"`
	Lines   []alertLine `json:"lines,omitempty"`
	Dropped int         `json:"dropped,omitempty"` // older lines left out for size
	Thread  int         `json:"thread,omitempty"`  // events shown in the thread instead of as lines
	Seqs    []int64     `json:"seqs,omitempty"`    // every event the message shows
}

type alertLine struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	Text string    `json:"text"` // rendered mrkdwn (already escaped)
}

func (m *alertModel) clone() alertModel {
	c := *m
	c.Lines = append([]alertLine(nil), m.Lines...)
	c.Seqs = append([]int64(nil), m.Seqs...)
	return c
}

func (m *alertModel) has(seq int64) bool {
	for _, s := range m.Seqs {
		if s == seq {
			return true
		}
	}
	return false
}

// inThread says whether an event the model shows is in the message's
// thread: a line of it is not in the message (an ESCALATE's page carries
// it instead).
func (m *alertModel) inThread(ev incident.Event) bool {
	if ev.Kind == incident.KindEscalate || m.Thread == 0 {
		return false
	}
	for _, l := range m.Lines {
		if l.Seq == ev.Seq {
			return false
		}
	}
	return true
}

// lineSeqs keeps the seqs that have a line in the message.
func (m *alertModel) lineSeqs(seqs []int64) []int64 {
	var out []int64
	for _, s := range seqs {
		for _, l := range m.Lines {
			if l.Seq == s {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// apply folds one ALERT/ACK/RESOLVE/ESCALATE event into the model; thread:
// its line goes to the message's thread, not under the header.
func (f *formatter) apply(m *alertModel, ev incident.Event, thread bool) {
	if m.has(ev.Seq) {
		return
	}
	m.Seqs = append(m.Seqs, ev.Seq)
	a := ev.Alert
	if m.ID == "" && a != nil {
		m.ID = a.ID
	}
	if ev.Service != "" {
		m.Service = ev.Service
	}
	if m.Group == "" && a != nil {
		m.Group = a.Group
	}
	member := a != nil && a.ID != m.ID // another alert of the message's group
	var text string
	switch ev.Kind {
	case incident.KindAlert:
		fired := a.ID == fmt.Sprintf("A%d", ev.Seq)
		if fired {
			m.Members++
			m.Open++
		}
		if a.Level == incident.LevelCrit && m.Level != incident.LevelCrit {
			m.AckedBy = "" // worse than when acked: the engine un-acks it
		}
		switch {
		case member && fired:
			text = fmt.Sprintf("%s `%s` joined: %s", levelEmoji(a.Level), user(a.ID, 20), user(ev.Text, maxAlertText))
		case member:
			text = fmt.Sprintf("%s `%s` now %s: %s", levelEmoji(a.Level), user(a.ID, 20), levelName(a.Level), user(ev.Text, maxAlertText))
		case fired:
			text = fmt.Sprintf("%s fired: %s", levelEmoji(a.Level), user(ev.Text, maxAlertText))
			switch {
			case a.Owner == "":
			case f.named[ev.Seq]:
				text += " — owner " + user(a.Owner, 60)
			default:
				text += " — " + f.mention(a.Owner)
			}
		default:
			text = fmt.Sprintf("%s now %s: %s", levelEmoji(a.Level), levelName(a.Level), user(ev.Text, maxAlertText))
		}
		if !member || a.Level.Rank() > m.Level.Rank() {
			m.Level = a.Level
		}
		if !member {
			m.Text = ev.Text
		}
	case incident.KindAck:
		m.AckedBy = ev.Actor
		text = ":eyes: " + user(ev.Text, maxAlertText)
	case incident.KindResolve:
		if m.Open > 0 {
			m.Open--
		}
		m.Resolved = m.Open == 0
		text = ":white_check_mark: " + user(ev.Text, maxAlertText)
	case incident.KindEscalate:
		m.Escalated = a.To
		text = ":rotating_light: escalated, paging " + f.mention(a.To) + ": " + user(ev.Text, maxAlertText)
	default:
		text = user(ev.Text, maxAlertText)
	}
	if thread {
		if ev.Kind != incident.KindEscalate {
			m.Thread++
		}
		return
	}
	m.Lines = append(m.Lines, alertLine{Seq: ev.Seq, Time: ev.Time, Text: text})
	if len(m.Lines) > maxAlertLines {
		// Keep the firing line and the newest ones.
		drop := len(m.Lines) - maxAlertLines
		m.Lines = append(m.Lines[:1], m.Lines[1+drop:]...)
		m.Dropped += drop
	}
}

func (m *alertModel) open() bool { return !m.Resolved }

// header is the first line of an alert message: its current state.
func (f *formatter) header(m *alertModel) string {
	var state string
	emoji := levelEmoji(m.Level)
	switch {
	case m.Resolved:
		emoji, state = ":white_check_mark:", "*RESOLVED* (was "+strings.ToLower(levelName(m.Level))+")"
	case m.AckedBy != "":
		state = "*" + levelName(m.Level) + "* · acked by " + user(m.AckedBy, 60)
	default:
		state = "*" + levelName(m.Level) + "* · unacked"
		if m.Escalated != "" {
			state += ", paged " + f.mention(m.Escalated)
		}
	}
	svc := m.Service
	if svc == "" {
		svc = "unassigned"
	}
	id := "`" + user(m.ID, 20) + "`"
	if m.Members > 1 {
		id += fmt.Sprintf(" +%d alerts (%d open)", m.Members-1, m.Open)
	}
	return fmt.Sprintf("%s %s · %s · %s · %s", emoji, state, user(svc, 60), id, user(m.Text, maxAlertText))
}

// alertText renders the whole message text (also the notification
// fallback of its blocks).
func (f *formatter) alertText(m *alertModel) string {
	var b strings.Builder
	b.WriteString(f.header(m))
	for i, l := range m.Lines {
		if i == 1 && m.Dropped > 0 {
			fmt.Fprintf(&b, "\n_… %d earlier updates_", m.Dropped)
		}
		fmt.Fprintf(&b, "\n`#%d` %s %s", l.Seq, stamp(l.Time), l.Text)
	}
	if m.Thread > 0 {
		fmt.Fprintf(&b, "\n_+%s in the thread_", incident.Plural(m.Thread, "later update"))
	}
	s := b.String()
	if utf8.RuneCountInString(s) > maxSectionText {
		s = clipLines(s, maxSectionText)
	}
	return s
}

// clipLines cuts whole lines from the end until s fits in n runes.
func clipLines(s string, n int) string {
	for utf8.RuneCountInString(s) > n {
		i := strings.LastIndexByte(s, '\n')
		if i <= 0 {
			return clip(s, n)
		}
		s = s[:i]
	}
	return s
}

// alertBlocks renders the message as blocks: the text, and an Ack button
// while the alert is open and unacknowledged.
func (f *formatter) alertBlocks(m *alertModel, text string) []slack.Block {
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil),
	}
	if m.open() && m.AckedBy == "" {
		btn := slack.NewButtonBlockElement(ackAction, m.ID, slack.NewTextBlockObject(slack.PlainTextType, "Ack "+clip(m.ID, 20), false, false))
		btn.Style = slack.StylePrimary
		blocks = append(blocks, slack.NewActionBlock("warroom_alert_"+m.ID, btn))
	}
	return blocks
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// stub is the last resort for a message Slack refuses in every plainer
// form: its #seq markers (and the alert's id and level), so the events
// are still named in the channel, and where to read them.
func (f *formatter) stub(g *outgoing, code string) string {
	var b strings.Builder
	if g.alert != nil {
		fmt.Fprintf(&b, "%s *%s* · `%s` · ", levelEmoji(g.model.Level), levelName(g.model.Level), user(g.model.ID, 20))
	}
	for _, s := range markers(g.text) {
		fmt.Fprintf(&b, "`#%d` ", s)
	}
	fmt.Fprintf(&b, "_(Slack refused this message: %s; it is in the war room's timeline)_", user(code, 60))
	return b.String()
}

var markerRE = regexp.MustCompile("`#(\\d+)`")

// markers are the event seqs a message names, in order: "`#42`" starts
// every timeline line, digest line and alert line the mirror writes.
func markers(text string) []int64 {
	var out []int64
	for _, m := range markerRE.FindAllStringSubmatch(text, -1) {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// sameMessage says whether a message read back from the channel's history
// is the one the mirror sent: it names the same events (#seq markers, in
// order). A message with no marker is compared by its first line. Both
// sides are normalised first, since Slack rewrites what it stores: bare
// URLs become <http://x>, some become <http://x|label>, and & < > are
// entities.
func sameMessage(sent, stored string) bool {
	sent, stored = normalise(sent), normalise(stored)
	a, b := markers(sent), markers(stored)
	if len(a) > 0 || len(b) > 0 {
		return slices.Equal(a, b)
	}
	return firstLine(sent) == firstLine(stored)
}

var (
	slackLink     = regexp.MustCompile(`<([^<>|]*)\|([^<>]*)>`) // <url|label> → label
	slackBareLink = regexp.MustCompile(`<([^<>|]*)>`)           // <url> → url
	entities      = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// normalise undoes Slack's formatting of stored text (links, entities,
// runs of spaces), so that what was sent and what was stored compare.
func normalise(s string) string {
	s = slackLink.ReplaceAllString(s, "$2")
	s = slackBareLink.ReplaceAllString(s, "$1")
	s = entities.Replace(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
