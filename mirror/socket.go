package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// Socket Mode: people act from Slack with /warroom ack|note|status and
// the Ack button on alert messages. The Slack user is mapped to a roster
// person, and the command goes through the engine like any other: the
// same permission checks, the same refusals (shown only to that person).

const (
	ackTimeout = 2 * time.Second // answer well inside Slack's 3 s
	maxReply   = 3000
)

var alertIDPattern = regexp.MustCompile(`^[Aa]\d+$`)

func (m *Mirror) setSocket(s string) {
	m.mu.Lock()
	// A stop is final: the events goroutine may still hand over the
	// "connecting" of the attempt that was refused.
	if !strings.HasPrefix(m.socket, socketStopped) {
		m.socket = m.redact(s)
	}
	m.mu.Unlock()
}

// socketStopped begins the state of a Socket Mode that gave up for good.
const socketStopped = "stopped: "

// socketFatal reports whether Socket Mode gave up for good: Slack refused
// the app token (an error answer such as invalid_auth), or
// apps.connections.open answered 404, which slack-go takes for a bad
// token too. Anything else is retried.
func socketFatal(err error) bool {
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	return errors.As(err, &se) || (errors.As(err, &sc) && sc.Code == http.StatusNotFound)
}

func (m *Mirror) socketLoop(ctx context.Context) {
	sm := socketmode.New(m.api, socketmode.OptionLog(log.New(io.Discard, "", 0)))
	handled := make(chan struct{})
	go func() { defer close(handled); m.socketEvents(ctx, sm) }()
	defer func() { <-handled }()
	backoff := time.Second
	for ctx.Err() == nil {
		m.setSocket("connecting")
		err := sm.RunContext(ctx)
		if ctx.Err() != nil {
			return
		}
		if socketFatal(err) {
			m.setSocket(socketStopped + fmt.Sprint(err) + " (check slack.app_token)")
			m.logf("mirror: Socket Mode stopped: %v", err)
			return
		}
		m.setSocket("reconnecting: " + fmt.Sprint(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func (m *Mirror) socketEvents(ctx context.Context, sm *socketmode.Client) {
	defer m.work.Wait()
	sem := make(chan struct{}, 8)
	// Slack re-delivers an envelope it thinks was not acked: run each
	// command once (a note must not be written twice).
	seen := map[string]bool{}
	var order []string
	first := func(req *socketmode.Request) bool {
		if req == nil || req.EnvelopeID == "" {
			return true
		}
		if seen[req.EnvelopeID] {
			return false
		}
		seen[req.EnvelopeID] = true
		order = append(order, req.EnvelopeID)
		if len(order) > 512 {
			delete(seen, order[0])
			order = order[1:]
		}
		return true
	}
	for {
		var evt socketmode.Event
		select {
		case <-ctx.Done():
			return
		case evt = <-sm.Events:
		}
		switch evt.Type {
		case socketmode.EventTypeConnecting:
			m.setSocket("connecting")
		case socketmode.EventTypeConnected:
			m.setSocket("connected")
		case socketmode.EventTypeConnectionError:
			if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
				m.setSocket("connection error: " + e.Error())
			}
		case socketmode.EventTypeSlashCommand:
			cmd, ok := evt.Data.(slack.SlashCommand)
			if !ok || evt.Request == nil {
				continue
			}
			req := *evt.Request
			if !first(evt.Request) {
				sm.Ack(req, map[string]any{"response_type": "ephemeral", "text": "Already done (Slack sent this command twice)."}) //nolint:errcheck
				continue
			}
			sem <- struct{}{}
			m.work.Add(1)
			go func() {
				defer m.work.Done()
				defer func() { <-sem }()
				text := m.slash(ctx, cmd)
				payload := map[string]any{"response_type": "ephemeral", "text": clipLines(text, maxReply)}
				if err := sm.Ack(req, payload); err != nil {
					m.logf("mirror: ack slash command: %v", err)
				}
			}()
		case socketmode.EventTypeInteractive:
			cb, ok := evt.Data.(slack.InteractionCallback)
			if evt.Request != nil {
				sm.Ack(*evt.Request) //nolint:errcheck // acked at once; the answer goes by chat.postEphemeral
			}
			if !ok || cb.Type != slack.InteractionTypeBlockActions || !first(evt.Request) {
				continue
			}
			sem <- struct{}{}
			m.work.Add(1)
			go func() {
				defer m.work.Done()
				defer func() { <-sem }()
				m.interaction(ctx, cb)
			}()
		case socketmode.EventTypeEventsAPI:
			if evt.Request != nil {
				sm.Ack(*evt.Request) //nolint:errcheck
			}
		}
	}
}

// person maps a Slack user to a roster handle, or explains why not.
func (m *Mirror) person(userID string) (string, string) {
	p, ok := m.eng.Roster().BySlackID(userID)
	if !ok {
		return "", fmt.Sprintf(":no_entry: Refused: Slack user %s is not on this war room's roster. Ask the commander to add your Slack member ID to the roster.", Escape(userID))
	}
	return p.Handle, ""
}

const usage = "Usage: `/warroom ack <service|alert id>` · `/warroom note <text>` · `/warroom signoff [criterion] [note]` · `/warroom status`"

// slash runs one slash command and returns the (ephemeral) answer.
func (m *Mirror) slash(ctx context.Context, cmd slack.SlashCommand) string {
	text := strings.TrimSpace(cmd.Text)
	verb, rest, _ := strings.Cut(text, " ")
	verb = strings.ToLower(verb)
	rest = strings.TrimSpace(rest)
	if cmd.Command != m.o.SlashCommand || verb == "" || verb == "help" {
		return usage
	}
	handle, refusal := m.person(cmd.UserID)
	if refusal != "" {
		return refusal
	}
	m.eng.Do(ctx, incident.Seen{Handle: handle, Via: incident.ViaSlack})
	switch verb {
	case "status":
		return m.statusText(ctx)
	case "ack":
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return "Say what to acknowledge: `/warroom ack <service>` or `/warroom ack <alert id>`."
		}
		return m.run(ctx, cmd.ChannelID, cmd.UserID, ackCommand(handle, rest))
	case "note":
		if rest == "" {
			return "A note needs text: `/warroom note <text>`."
		}
		return m.run(ctx, cmd.ChannelID, cmd.UserID, incident.Note{By: handle, Text: rest})
	case "signoff":
		return m.run(ctx, cmd.ChannelID, cmd.UserID, m.signOff(handle, rest))
	}
	return "Unknown command " + Escape("`"+clip(verb, 40)+"`") + ". " + usage
}

// signOff reads "[criterion] [note]" against the room's plan.
func (m *Mirror) signOff(handle, rest string) incident.Command {
	var plan *incident.PlanInfo
	m.liveMu.Lock()
	if m.live != nil && m.live.Room != nil {
		plan = m.live.Room.Plan
	}
	m.liveMu.Unlock()
	return plan.SignOffFrom(handle, rest)
}

func ackCommand(handle, what string) incident.Command {
	if alertIDPattern.MatchString(what) {
		return incident.Ack{By: handle, AlertID: strings.ToUpper(what[:1]) + what[1:]}
	}
	return incident.AckService{By: handle, Service: what}
}

// interaction handles a click on an alert's Ack button.
func (m *Mirror) interaction(ctx context.Context, cb slack.InteractionCallback) {
	ch := cb.Container.ChannelID
	if ch == "" {
		ch = cb.Channel.ID
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil || a.ActionID != ackAction {
			continue
		}
		handle, refusal := m.person(cb.User.ID)
		text := refusal
		if refusal == "" {
			m.eng.Do(ctx, incident.Seen{Handle: handle, Via: incident.ViaSlack})
			text = m.runWait(ctx, incident.Ack{By: handle, AlertID: a.Value}, 30*time.Second)
		}
		m.ephemeral(ctx, ch, cb.User.ID, text)
	}
}

// run sends a command to the engine and answers within the ack deadline;
// if the engine is slower, the answer follows as an ephemeral message.
func (m *Mirror) run(ctx context.Context, channel, userID string, cmd incident.Command) string {
	done := make(chan incident.Reply, 1)
	m.work.Add(1)
	go func() { defer m.work.Done(); done <- m.eng.Do(ctx, cmd) }()
	select {
	case rep := <-done:
		return replyText(cmd, rep)
	case <-time.After(ackTimeout):
		m.work.Add(1)
		go func() {
			defer m.work.Done()
			select {
			case rep := <-done:
				m.ephemeral(ctx, channel, userID, replyText(cmd, rep))
			case <-ctx.Done():
			}
		}()
		return ":hourglass: Working on it; the answer follows."
	}
}

func (m *Mirror) runWait(ctx context.Context, cmd incident.Command, d time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return replyText(cmd, m.eng.Do(ctx, cmd))
}

func replyText(cmd incident.Command, rep incident.Reply) string {
	var ref *roles.Refusal
	switch {
	case errors.As(rep.Err, &ref):
		return ":no_entry: Refused: " + Escape(ref.Reason)
	case rep.Err != nil:
		return ":warning: The war room could not take that: " + Escape(rep.Err.Error())
	}
	switch cmd.(type) {
	case incident.Ack, incident.AckService:
		var ids []string
		for _, ev := range rep.Events {
			if ev.Alert != nil {
				ids = append(ids, fmt.Sprintf("`%s` (#%d)", Escape(ev.Alert.ID), ev.Seq))
			}
		}
		return ":white_check_mark: Acked " + strings.Join(ids, ", ")
	case incident.Note:
		return fmt.Sprintf(":memo: Noted as #%d", rep.Seq)
	case incident.SignOff:
		for _, ev := range rep.Events {
			if ev.Evidence != nil {
				return fmt.Sprintf(":white_check_mark: %s (#%d)", Escape(ev.Text), ev.Seq)
			}
		}
	}
	return fmt.Sprintf("Done (#%d)", rep.Seq)
}

// ephemeral shows text to one person in a channel. It respects a 429 on
// chat.postEphemeral and gives up after a while (the ack itself is in the
// timeline either way).
func (m *Mirror) ephemeral(ctx context.Context, channel, userID, text string) {
	for attempt := 0; attempt < 3; attempt++ {
		cctx, c := withCall(ctx)
		_, err := m.api.PostEphemeralContext(cctx, channel, userID, slack.MsgOptionText(clipLines(text, maxReply), false))
		if err == nil || ctx.Err() != nil {
			return
		}
		e := m.classify(err, c.retryAfter)
		wait := time.Second
		switch e.Class {
		case RateLimited:
			wait = e.RetryAfter
		case Retryable:
		default:
			m.logf("mirror: ephemeral answer not shown: %s", e.Reason)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-m.clk.After(wait):
		}
	}
}

// statusText is the /warroom status summary: the incident, its
// commander, open alerts by service, and the mirror's own state. It asks
// the engine for a fresh snapshot (the mirror's own copy may trail by the
// events it has not folded yet), falling back to that copy.
func (m *Mirror) statusText(ctx context.Context) string {
	s, _ := incident.Snapshot(ctx, m.eng)
	m.liveMu.Lock()
	if s == nil {
		s = m.live
	}
	var b strings.Builder
	if s == nil {
		m.liveMu.Unlock()
		return "The war room is starting."
	}
	fmt.Fprintf(&b, "*%s* · commander *%s*", Escape(s.Name), Escape(nameOr(s.Roles.Commander, "nobody")))
	if o := s.Roles.Offer; o != nil {
		fmt.Fprintf(&b, " (command offered to %s)", Escape(o.To))
	}
	now := m.clk.Now()
	bySvc := map[string][]*incident.Alert{}
	for _, a := range s.OpenAlerts() {
		bySvc[a.Service] = append(bySvc[a.Service], a)
	}
	var order []string
	if s.Room != nil {
		for _, svc := range s.Room.Services {
			order = append(order, svc.ID)
		}
	}
	known := map[string]bool{}
	for _, id := range order {
		known[id] = true
	}
	var extra []string
	for id := range bySvc {
		if !known[id] {
			extra = append(extra, id)
		}
	}
	sort.Strings(extra)
	order = append(order, extra...)
	open := 0
	for _, id := range order {
		alerts := bySvc[id]
		name := id
		if name == "" {
			name = "unassigned"
		}
		if len(alerts) == 0 {
			fmt.Fprintf(&b, "\n• *%s*: no open alerts", Escape(name))
			continue
		}
		fmt.Fprintf(&b, "\n• *%s*:", Escape(name))
		for _, a := range alerts {
			open++
			state := "unacked " + incident.Age(now.Sub(a.FiredAt))
			if a.Acked() {
				state = "acked by " + Escape(a.AckedBy)
			}
			fmt.Fprintf(&b, " `%s` %s %s (%s);", Escape(a.ID), levelName(a.Level), user(a.Text, 120), state)
		}
	}
	m.liveMu.Unlock()
	if open == 0 {
		b.WriteString("\nNo open alerts.")
	}
	st := m.Status()
	fmt.Fprintf(&b, "\nSlack mirror: %s, %d events behind", st.State, st.Lag)
	return b.String()
}

func nameOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
