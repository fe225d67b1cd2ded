package slack

import (
	"regexp"
	"slices"
	"strings"
)

// CommonErrors are the error codes Slack documents for every Web API
// method (docs.slack.dev, "Common errors" of each method page).
var CommonErrors = []string{
	"access_denied", "accesslimited", "account_inactive", "deprecated_endpoint", "ekm_access_denied",
	"enterprise_is_restricted", "fatal_error", "internal_error", "invalid_arg_name", "invalid_arguments",
	"invalid_array_arg", "invalid_auth", "invalid_charset", "invalid_form_data", "invalid_json",
	"invalid_post_type", "json_not_object", "method_deprecated", "missing_post_type", "missing_scope",
	"no_permission", "not_allowed_token_type", "not_authed", "org_login_required", "ratelimited",
	"request_timeout", "service_unavailable", "team_access_not_granted", "team_added_to_org",
	"token_expired", "token_revoked", "two_factor_setup_required", "upgrade_required",
}

// MethodErrors are the error codes each method the fake serves can
// answer besides CommonErrors: the per-method enums of Slack's OpenAPI
// spec (slackapi/slack-api-specs web-api/slack_web_openapi_v2.json) and
// the method pages of docs.slack.dev.
var MethodErrors = map[string][]string{
	"chat.postMessage": {
		"as_user_not_supported", "attachment_payload_limit_exceeded", "cannot_reply_to_message",
		"channel_not_found", "duplicate_channel_not_found", "duplicate_message_not_found",
		"invalid_blocks", "invalid_blocks_format", "invalid_metadata_filter_keys", "invalid_metadata_format",
		"invalid_metadata_schema", "is_archived", "message_limit_exceeded", "messages_tab_disabled",
		"metadata_must_be_sent_from_app", "metadata_too_large", "msg_blocks_too_long", "msg_too_long",
		"no_text", "not_in_channel", "rate_limited", "restricted_action",
		"restricted_action_non_threadable_channel", "restricted_action_read_only_channel",
		"restricted_action_thread_locked", "restricted_action_thread_only_channel",
		"slack_connect_canvas_sharing_blocked", "slack_connect_file_link_sharing_blocked",
		"slack_connect_lists_sharing_blocked", "thread_not_found", "too_many_attachments", "too_many_contact_cards",
	},
	"chat.update": {
		"cant_broadcast_message", "cant_update_message", "channel_not_found", "edit_window_closed",
		"invalid_attachments", "invalid_blocks", "invalid_blocks_format", "invalid_metadata_format",
		"invalid_metadata_schema", "is_archived", "is_inactive", "message_not_found",
		"metadata_must_be_sent_from_app", "metadata_too_large", "msg_blocks_too_long", "msg_too_long",
		"no_dual_broadcast_content_update", "no_text", "not_in_channel", "rate_limited",
		"too_many_attachments", "update_failed",
	},
	"conversations.history": {
		"channel_not_found", "invalid_cursor", "invalid_limit", "invalid_ts_latest", "invalid_ts_oldest",
		"not_in_channel",
	},
	"conversations.replies": {
		"channel_not_found", "invalid_cursor", "invalid_limit", "invalid_ts_latest", "invalid_ts_oldest",
		"not_in_channel", "thread_not_found",
	},
	"conversations.info": {"channel_not_found", "team_added_to_org", "method_not_supported_for_channel_type"},
	"auth.test":          {},
	"chat.postEphemeral": {
		"channel_not_found", "invalid_blocks", "invalid_blocks_format", "is_archived", "msg_too_long",
		"no_text", "not_in_channel", "restricted_action", "too_many_attachments", "user_not_found",
		"user_not_in_channel",
	},
	"apps.connections.open": {},
}

// Documented reports whether Slack documents code as an answer of method.
func Documented(method, code string) bool {
	codes, ok := MethodErrors[method]
	return ok && (slices.Contains(codes, code) || slices.Contains(CommonErrors, code))
}

// bareURL is a URL written as plain text (not already inside <…>).
var bareURL = regexp.MustCompile(`(?:https?|ftp)://[^\s<>|]+`)

// linkify stores text as Slack does: with parse=none (the default) Slack
// still "will linkify any non-linked URLs present in your message. IN: Foo
// bar http://test.com OUT: Foo bar <http://test.com>" (Slack's formatting
// reference). A URL's trailing punctuation stays outside the link.
func linkify(text string) string {
	locs := bareURL.FindAllStringIndex(text, -1)
	if len(locs) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		start, end := l[0], l[1]
		if start > 0 && (text[start-1] == '<' || text[start-1] == '|') {
			continue // already a link (or its label)
		}
		for end > start && strings.ContainsRune(".,:!?)'\"", rune(text[end-1])) {
			end--
		}
		b.WriteString(text[last:start])
		b.WriteString("<" + text[start:end] + ">")
		last = end
	}
	b.WriteString(text[last:])
	return b.String()
}
