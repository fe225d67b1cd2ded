package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/slack-go/slack"
)

// Class is what Slack's answer to one call means for the mirror.
type Class int

const (
	// Delivered: ok:true.
	Delivered Class = iota
	// RateLimited: not applied; wait out Retry-After (or
	// Options.DefaultRetryAfter) on that method's lane, then send again.
	RateLimited
	// Retryable: not applied (5xx, service_unavailable, a connection that
	// never carried the request); back off and send again.
	Retryable
	// Uncertain: the call may have been applied (the reply was lost,
	// internal_error, fatal_error). A post is looked for in the channel's
	// history before it is sent again; an update is simply sent again.
	Uncertain
	// Content: Slack refused this message (too long, bad blocks, bad
	// form data). The refused call was not applied: the message is sent
	// again plainer, through the pacer, down to a one-line stub.
	Content
	// Gone: chat.update cannot change this message any more; what it
	// would have shown goes to the timeline as lines.
	Gone
	// Fatal: only a person can fix it (token, scopes, channel). The
	// mirror stops with the reason; everything stays queued.
	Fatal
)

// Sentinel errors, one per class: errors.Is(err, ErrFatal) for an *Error
// of class Fatal, and so on.
var (
	ErrRateLimited = errors.New("slack: rate-limited")
	ErrRetryable   = errors.New("slack: failed, retrying")
	ErrUncertain   = errors.New("slack: answer lost")
	ErrContent     = errors.New("slack: message refused")
	ErrGone        = errors.New("slack: message can no longer be updated")
	ErrFatal       = errors.New("slack: the bot is refused")
)

func (c Class) String() string {
	switch c {
	case Delivered:
		return "delivered"
	case RateLimited:
		return "rate-limited"
	case Retryable:
		return "retryable"
	case Uncertain:
		return "uncertain"
	case Content:
		return "content"
	case Gone:
		return "gone"
	case Fatal:
		return "fatal"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

func (c Class) sentinel() error {
	switch c {
	case RateLimited:
		return ErrRateLimited
	case Retryable:
		return ErrRetryable
	case Uncertain:
		return ErrUncertain
	case Content:
		return ErrContent
	case Gone:
		return ErrGone
	case Fatal:
		return ErrFatal
	}
	return nil
}

// Error is Slack's answer to one call, classified. It unwraps to its
// class's sentinel.
type Error struct {
	Class      Class
	Code       string        // Slack's error code, "HTTP 503", or a network failure class
	RetryAfter time.Duration // RateLimited: how long the lane waits
	Reason     string        // for people (status bar, MIRROR events); tokens are redacted before it is shown
}

func (e *Error) Error() string { return e.Reason }
func (e *Error) Unwrap() error { return e.Class.sentinel() }

// slackCodes classifies every error code Slack documents for the methods
// the mirror calls (chat.postMessage, chat.update, conversations.history,
// auth.test, chat.postEphemeral): the per-method enums of Slack's OpenAPI
// spec (slackapi/slack-api-specs web-api/slack_web_openapi_v2.json), the
// method pages and the common errors list of docs.slack.dev. A code that
// is not here is treated as Content: the message is sent plainer, and if
// even a one-line stub is refused the mirror stops with the code.
var slackCodes = map[string]struct {
	class Class
	why   string
}{
	// Rate limits. ratelimited comes with HTTP 429 and Retry-After;
	// rate_limited ("Application has posted too many messages") and
	// message_limit_exceeded (a free workspace's message limit) come with
	// HTTP 200.
	"ratelimited":            {RateLimited, ""},
	"rate_limited":           {RateLimited, ""},
	"message_limit_exceeded": {RateLimited, "the workspace's message limit is reached"},

	// Not applied; try again later.
	"service_unavailable": {Retryable, "the service is temporarily unavailable"},
	"request_timeout":     {Retryable, "the POST data was missing or truncated"},
	"team_added_to_org":   {Retryable, "the workspace is migrating to an Enterprise Grid org"},
	"update_failed":       {Retryable, "the update failed inside Slack"},
	// "It's possible some aspect of the operation succeeded before the
	// error was raised."
	"internal_error": {Uncertain, ""},
	"fatal_error":    {Uncertain, ""},

	// This message is refused; a plainer one may pass.
	"msg_too_long":                            {Content, ""},
	"msg_blocks_too_long":                     {Content, ""},
	"invalid_blocks":                          {Content, ""},
	"invalid_blocks_format":                   {Content, ""},
	"no_text":                                 {Content, ""},
	"too_many_attachments":                    {Content, ""},
	"invalid_attachments":                     {Content, ""},
	"attachment_payload_limit_exceeded":       {Content, ""},
	"too_many_contact_cards":                  {Content, ""},
	"invalid_metadata_format":                 {Content, ""},
	"invalid_metadata_schema":                 {Content, ""},
	"invalid_metadata_filter_keys":            {Content, ""},
	"metadata_too_large":                      {Content, ""},
	"metadata_must_be_sent_from_app":          {Content, ""},
	"slack_connect_canvas_sharing_blocked":    {Content, ""},
	"slack_connect_file_link_sharing_blocked": {Content, ""},
	"slack_connect_lists_sharing_blocked":     {Content, ""},
	"cant_broadcast_message":                  {Content, ""},
	"no_dual_broadcast_content_update":        {Content, ""},
	"as_user_not_supported":                   {Content, ""},
	"duplicate_channel_not_found":             {Content, ""},
	"duplicate_message_not_found":             {Content, ""},
	"cannot_reply_to_message":                 {Content, ""},
	"thread_not_found":                        {Content, ""},
	// The request itself was malformed. If it was this message's bytes, a
	// plainer stub passes; if every request is (a proxy that mangles
	// them), the stub is refused too and the mirror stops.
	"invalid_arg_name":    {Content, ""},
	"invalid_arguments":   {Content, ""},
	"invalid_array_arg":   {Content, ""},
	"invalid_charset":     {Content, ""},
	"invalid_form_data":   {Content, ""},
	"invalid_post_type":   {Content, ""},
	"missing_post_type":   {Content, ""},
	"invalid_json":        {Content, ""},
	"json_not_object":     {Content, ""},
	"invalid_ts_latest":   {Content, ""},
	"invalid_ts_oldest":   {Content, ""},
	"invalid_cursor":      {Content, ""},
	"invalid_limit":       {Content, ""},
	"user_not_found":      {Content, ""},
	"user_not_in_channel": {Content, ""},

	// chat.update: this message cannot change any more.
	"message_not_found":        {Gone, ""},
	"cant_update_message":      {Gone, ""},
	"edit_window_closed":       {Gone, ""},
	"is_inactive":              {Gone, "the message is in a frozen, archived or deleted channel"},
	"message_not_owned_by_app": {Gone, ""},

	// Only a person can fix these.
	"invalid_auth":                             {Fatal, "the bot token is not valid"},
	"not_authed":                               {Fatal, "no bot token was sent"},
	"account_inactive":                         {Fatal, "the bot's account or workspace is deactivated"},
	"token_revoked":                            {Fatal, "the bot token was revoked"},
	"token_expired":                            {Fatal, "the bot token expired"},
	"no_permission":                            {Fatal, "the bot token lacks a permission"},
	"missing_scope":                            {Fatal, "the bot token lacks a scope (chat:write; channels:history to check lost replies)"},
	"not_allowed_token_type":                   {Fatal, "the bot token is the wrong type (use the xoxb- bot token)"},
	"team_access_not_granted":                  {Fatal, "the bot is not allowed in this workspace"},
	"ekm_access_denied":                        {Fatal, "the workspace's keys deny access"},
	"access_denied":                            {Fatal, "access to the channel is denied"},
	"accesslimited":                            {Fatal, "access is limited on this network"},
	"org_login_required":                       {Fatal, "the workspace needs an org login"},
	"two_factor_setup_required":                {Fatal, "the workspace requires two-factor setup"},
	"enterprise_is_restricted":                 {Fatal, "the method cannot be called from an Enterprise"},
	"upgrade_required":                         {Fatal, "Slack requires a newer client"},
	"deprecated_endpoint":                      {Fatal, "the method is deprecated"},
	"method_deprecated":                        {Fatal, "the method is deprecated"},
	"channel_not_found":                        {Fatal, "the channel does not exist or the bot cannot see it (slack.channel must be a channel ID)"},
	"not_in_channel":                           {Fatal, "the bot is not in the channel: invite it"},
	"is_archived":                              {Fatal, "the channel is archived"},
	"messages_tab_disabled":                    {Fatal, "the app's messages tab is disabled"},
	"restricted_action":                        {Fatal, "the workspace does not allow the bot to post there"},
	"restricted_action_read_only_channel":      {Fatal, "the channel is read-only"},
	"restricted_action_thread_only_channel":    {Fatal, "the channel allows thread replies only"},
	"restricted_action_non_threadable_channel": {Fatal, "the channel does not allow threads"},
	"restricted_action_thread_locked":          {Fatal, "the thread is locked"},
}

// classify reads one call's outcome: nil when it succeeded. ra is a
// Retry-After the response carried (HTTP 200 rate limits may send one).
func (m *Mirror) classify(err error, ra time.Duration) *Error {
	if err == nil {
		return nil
	}
	wait := func(d time.Duration) time.Duration {
		if d <= 0 {
			d = ra
		}
		if d <= 0 {
			d = m.o.DefaultRetryAfter
		}
		return d
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &Error{Class: RateLimited, Code: "ratelimited", RetryAfter: wait(rl.RetryAfter), Reason: "rate-limited by Slack"}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		c := se.Err
		info, known := slackCodes[c]
		if !known {
			info.class = Content
		}
		e := &Error{Class: info.class, Code: c}
		switch info.class {
		case RateLimited:
			e.RetryAfter = wait(0)
			e.Reason = "rate-limited by Slack (" + c + ")"
			if info.why != "" {
				e.Reason += ": " + info.why
			}
		case Fatal:
			e.Reason = c + ": " + info.why
		case Content:
			e.Reason = "Slack refused the message: " + c
		case Gone:
			e.Reason = "Slack will not update the message: " + c
		default:
			e.Reason = "Slack answered " + c
			if info.why != "" {
				e.Reason += " (" + info.why + ")"
			}
		}
		return e
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		code := "HTTP " + strconv.Itoa(sc.Code)
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return &Error{Class: RateLimited, Code: code, RetryAfter: wait(0), Reason: "rate-limited by Slack (no Retry-After)"}
		case sc.Code == http.StatusGatewayTimeout:
			return &Error{Class: Uncertain, Code: code, Reason: "Slack answered HTTP 504"}
		case sc.Code >= 500, sc.Code == http.StatusRequestTimeout:
			return &Error{Class: Retryable, Code: code, Reason: "Slack answered " + code}
		}
		return &Error{Class: Fatal, Code: code, Reason: fmt.Sprintf("Slack answered %s (check slack.api_url)", code)}
	}
	var te *transportError
	if errors.As(err, &te) {
		class := netClass(te.err)
		if te.sent {
			return &Error{Class: Uncertain, Code: class, Reason: "reply lost (" + class + ")"}
		}
		return &Error{Class: Retryable, Code: class, Reason: "Slack unreachable (" + class + ")"}
	}
	// The answer came but could not be read (cut short): the request
	// was applied or not; we cannot tell.
	return &Error{Class: Uncertain, Code: "unreadable reply", Reason: "unreadable reply: " + m.redact(err.Error())}
}

func netClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "DNS lookup failed"
	}
	return "network error"
}
