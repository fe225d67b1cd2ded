package slack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Ack is a client's answer to one Socket Mode envelope.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack carried none
	Text       string          // payload.text, if any
	Latency    time.Duration   // real time from delivery to ack
}

// ErrNoConnection is returned when no Socket Mode client is connected.
var ErrNoConnection = errors.New("slack sim: no Socket Mode connection")

type socketHub struct {
	s       *Server
	mu      sync.Mutex
	tickets map[string]bool
	conns   []*wsConn
	waiting map[string]chan Ack
	nextEnv int
	up      *websocket.Upgrader
}

type wsConn struct {
	c    *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
}

func newSocketHub(s *Server) *socketHub {
	return &socketHub{
		s:       s,
		tickets: map[string]bool{},
		waiting: map[string]chan Ack{},
		// Slack's client dials with Origin: https://api.slack.com; accept any.
		up: &websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}

func (h *socketHub) issueTicket() string {
	t := randomHex(12)
	h.mu.Lock()
	h.tickets[t] = true
	h.mu.Unlock()
	return t
}

func (h *socketHub) handleWS(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("ticket")
	h.mu.Lock()
	ok := h.tickets[t]
	delete(h.tickets, t) // one use, like Slack's
	h.mu.Unlock()
	if !ok {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	c, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wc := &wsConn{c: c, done: make(chan struct{})}
	h.mu.Lock()
	h.conns = append(h.conns, wc)
	n := len(h.conns)
	h.mu.Unlock()
	hello := map[string]any{
		"type":            "hello",
		"num_connections": n,
		"debug_info":      map[string]any{"host": "warroom-sim", "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": h.s.o.AppID},
	}
	if err := wc.write(hello); err != nil {
		h.drop(wc)
		return
	}
	h.s.mu.Lock()
	h.s.note("socket    client connected (%d open)", n)
	h.s.mu.Unlock()
	go h.pinger(wc)
	h.reader(wc)
}

func (c *wsConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	return c.c.WriteJSON(v)
}

func (h *socketHub) pinger(c *wsConn) {
	t := time.NewTicker(h.s.o.PingInterval)
	defer t.Stop()
	ping := func() error {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.c.WriteControl(websocket.PingMessage, []byte("warroom-sim"), time.Now().Add(5*time.Second))
	}
	if ping() != nil {
		return
	}
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if ping() != nil {
				return
			}
		}
	}
}

func (h *socketHub) reader(c *wsConn) {
	defer h.drop(c)
	for {
		_, data, err := c.c.ReadMessage()
		if err != nil {
			return
		}
		var a struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &a) != nil || a.EnvelopeID == "" {
			h.s.mu.Lock()
			h.s.violate("socket mode: unreadable frame from client: %.80q", data)
			h.s.mu.Unlock()
			continue
		}
		ack := Ack{EnvelopeID: a.EnvelopeID}
		if len(a.Payload) > 0 && string(a.Payload) != "null" {
			ack.Payload = a.Payload
			var p struct {
				Text string `json:"text"`
			}
			json.Unmarshal(a.Payload, &p) //nolint:errcheck
			ack.Text = p.Text
		}
		h.mu.Lock()
		ch := h.waiting[a.EnvelopeID]
		delete(h.waiting, a.EnvelopeID)
		h.mu.Unlock()
		if ch == nil {
			h.s.mu.Lock()
			h.s.violate("socket mode: ack for unknown or late envelope %s", a.EnvelopeID)
			h.s.mu.Unlock()
			continue
		}
		ch <- ack
	}
}

func (h *socketHub) drop(c *wsConn) {
	h.mu.Lock()
	for i, x := range h.conns {
		if x == c {
			h.conns = append(h.conns[:i], h.conns[i+1:]...)
			close(c.done)
			break
		}
	}
	h.mu.Unlock()
	c.c.Close()
}

func (h *socketHub) closeAll() {
	h.mu.Lock()
	conns := append([]*wsConn(nil), h.conns...)
	h.mu.Unlock()
	for _, c := range conns {
		c.c.Close()
	}
}

// Connections is how many Socket Mode clients are connected.
func (s *Server) Connections() int {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return len(s.sock.conns)
}

// Disconnect asks every Socket Mode client to reconnect, as Slack does
// before rotating a connection (a "disconnect" frame, reason "warning").
func (s *Server) Disconnect() {
	h := s.sock
	h.mu.Lock()
	conns := append([]*wsConn(nil), h.conns...)
	h.mu.Unlock()
	for _, c := range conns {
		c.write(map[string]any{"type": "disconnect", "reason": "warning", "debug_info": map[string]any{"host": "warroom-sim"}}) //nolint:errcheck
	}
}

// deliver sends an envelope on the newest connection and waits (real
// time, AckTimeout) for its ack.
func (h *socketHub) deliver(typ string, payload any) (Ack, error) {
	h.mu.Lock()
	if len(h.conns) == 0 {
		h.mu.Unlock()
		return Ack{}, ErrNoConnection
	}
	c := h.conns[len(h.conns)-1]
	h.nextEnv++
	id := fmt.Sprintf("env-%d-%s", h.nextEnv, randomHex(4))
	ch := make(chan Ack, 1)
	h.waiting[id] = ch
	h.mu.Unlock()
	env := map[string]any{
		"envelope_id":              id,
		"type":                     typ,
		"accepts_response_payload": typ == "slash_commands",
		"retry_attempt":            0,
		"retry_reason":             "",
		"payload":                  payload,
	}
	start := time.Now()
	if err := c.write(env); err != nil {
		h.mu.Lock()
		delete(h.waiting, id)
		h.mu.Unlock()
		return Ack{}, fmt.Errorf("slack sim: deliver envelope: %w", err)
	}
	select {
	case a := <-ch:
		a.Latency = time.Since(start)
		return a, nil
	case <-time.After(h.s.o.AckTimeout):
		h.mu.Lock()
		delete(h.waiting, id)
		h.mu.Unlock()
		h.s.mu.Lock()
		h.s.violate("socket mode: envelope %s (%s) not acked within %s", id, typ, h.s.o.AckTimeout)
		h.s.mu.Unlock()
		return Ack{}, fmt.Errorf("slack sim: envelope %s not acked within %s", id, h.s.o.AckTimeout)
	}
}

// SlashCommand is a slash command as a person types it.
type SlashCommand struct {
	User    string // user ID
	Channel string // default: the first channel
	Command string // default "/warroom"
	Text    string
}

// InjectSlash delivers "/warroom text" typed by user in the default
// channel and returns the ack (whose payload text is the response the user
// sees, ephemerally unless response_type is in_channel).
func (s *Server) InjectSlash(user, text string) (Ack, error) {
	return s.InjectSlashCommand(SlashCommand{User: user, Text: text})
}

// InjectSlashCommand delivers a slash_commands envelope.
func (s *Server) InjectSlashCommand(c SlashCommand) (Ack, error) {
	if c.Channel == "" {
		c.Channel = s.ChannelID()
	}
	if c.Command == "" {
		c.Command = "/warroom"
	}
	s.mu.Lock()
	ch := s.channels[c.Channel]
	chName := c.Channel
	if ch != nil {
		chName = ch.Name
	}
	userName := c.User
	if u, ok := s.users[c.User]; ok && u.Name != "" {
		userName = u.Name
	}
	now := s.clk.Now()
	if ch != nil {
		s.transcribe(now, "slash", ch, "", "by "+s.userName(c.User), c.Command+" "+c.Text)
	}
	s.mu.Unlock()
	payload := map[string]any{
		"token":                 "sim-verification-token",
		"team_id":               s.o.TeamID,
		"team_domain":           s.o.TeamName,
		"channel_id":            c.Channel,
		"channel_name":          chName,
		"user_id":               c.User,
		"user_name":             userName,
		"command":               c.Command,
		"text":                  c.Text,
		"api_app_id":            s.o.AppID,
		"is_enterprise_install": "false",
		"response_url":          s.URL() + "commands/" + randomHex(8),
		"trigger_id":            randomHex(10),
	}
	a, err := s.sock.deliver("slash_commands", payload)
	if err != nil {
		return a, err
	}
	if len(a.Payload) > 0 {
		var p struct {
			Text         string          `json:"text"`
			ResponseType string          `json:"response_type"`
			Blocks       json.RawMessage `json:"blocks"`
		}
		json.Unmarshal(a.Payload, &p) //nolint:errcheck
		s.mu.Lock()
		now := s.clk.Now()
		if p.ResponseType == "in_channel" && ch != nil {
			m := &Message{Channel: ch.ID, TS: s.nextTS(), User: s.o.BotUserID, BotID: s.o.BotID, Text: p.Text, Blocks: compactJSON(p.Blocks), Posted: now}
			s.store(ch, m)
			s.transcribe(now, "post", ch, m.TS, "slash response", p.Text)
		} else if p.Text != "" || len(p.Blocks) > 0 {
			s.ephemerals = trim(append(s.ephemerals, Ephemeral{Time: now, Channel: c.Channel, User: c.User, Text: p.Text, Blocks: compactJSON(p.Blocks), Source: "slash response"}), s.o.MaxMessages)
			if ch != nil {
				s.transcribe(now, "ephemeral", ch, "", "slash response to "+s.userName(c.User), p.Text)
			}
		}
		s.mu.Unlock()
	}
	return a, nil
}

// ClickButton has user click the newest button with actionID and value
// on any stored message, delivering a block_actions envelope. There must
// be such a button: a person can only click what Slack shows.
func (s *Server) ClickButton(user, actionID, value string) (Ack, error) {
	s.mu.Lock()
	var found *Message
	var ch *channel
	var blockID, label string
	for _, cid := range s.chanOrder {
		c := s.channels[cid]
		for i := len(c.messages) - 1; i >= 0; i-- {
			if b, l, ok := findButton(c.messages[i].Blocks, actionID, value); ok {
				if found == nil || c.messages[i].TS > found.TS {
					found, ch, blockID, label = c.messages[i], c, b, l
				}
				break
			}
		}
	}
	if found == nil {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("slack sim: no button %q with value %q on any message", actionID, value)
	}
	msg := wireMessage(found)
	now := s.clk.Now()
	userName := user
	if u, ok := s.users[user]; ok && u.Name != "" {
		userName = u.Name
	}
	actionTS := FormatTS(now.UnixMicro())
	s.transcribe(now, "click", ch, found.TS, "by "+s.userName(user), fmt.Sprintf("[%s] %s=%s", label, actionID, value))
	s.mu.Unlock()
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": user, "username": userName, "name": userName, "team_id": s.o.TeamID},
		"api_app_id": s.o.AppID,
		"token":      "sim-verification-token",
		"container": map[string]any{
			"type": "message", "message_ts": found.TS, "channel_id": ch.ID, "is_ephemeral": false,
		},
		"trigger_id":   randomHex(10),
		"team":         map[string]any{"id": s.o.TeamID, "domain": s.o.TeamName},
		"enterprise":   nil,
		"channel":      map[string]any{"id": ch.ID, "name": ch.Name},
		"message":      msg,
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": s.URL() + "actions/" + randomHex(8),
		"actions": []map[string]any{{
			"action_id": actionID,
			"block_id":  blockID,
			"text":      map[string]any{"type": "plain_text", "text": label, "emoji": true},
			"value":     value,
			"type":      "button",
			"action_ts": actionTS,
		}},
	}
	return s.sock.deliver("interactive", payload)
}

// findButton looks for a button element in blocks (top level and in
// actions/section accessories).
func findButton(blocks json.RawMessage, actionID, value string) (blockID, label string, ok bool) {
	if len(blocks) == 0 || !strings.Contains(string(blocks), actionID) {
		return "", "", false
	}
	var bs []struct {
		Type      string `json:"type"`
		BlockID   string `json:"block_id"`
		Elements  []json.RawMessage
		Accessory json.RawMessage `json:"accessory"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return "", "", false
	}
	type button struct {
		Type     string `json:"type"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
		Text     struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	for _, b := range bs {
		els := b.Elements
		if len(b.Accessory) > 0 {
			els = append(els, b.Accessory)
		}
		for _, e := range els {
			var btn button
			if json.Unmarshal(e, &btn) == nil && btn.Type == "button" && btn.ActionID == actionID && btn.Value == value {
				return b.BlockID, btn.Text.Text, true
			}
		}
	}
	return "", "", false
}
