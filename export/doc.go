// Package export turns a warroom journal into a postmortem: a Markdown
// skeleton with SVG charts beside it, one self-contained HTML file, JSON
// (events, samples and computed summaries in a versioned schema, see
// SCHEMA.md) or CSV (the timeline).
//
// It works from the journal alone: no war-room file is needed, and the
// journal may be a live one (opened read-only; the writer is never
// blocked) or a copy from another machine.
//
// The export is deterministic: the same journal and options give the same
// bytes. Nothing in it depends on the time of the export, the machine, map
// order or the environment; it contains only text from the journal.
//
// Filters (Important, Service, From/To) select what is shown. Durations
// (time to ack, time to resolve, time in command, mitigation durations) are
// always computed from the whole journal, so a window that cuts an alert's
// ack out still reports the right time to ack. Important marks are the
// journal's final word (the latest IMPORTANT event for a seq wins).
//
// Times are shown in UTC, and also in the war room's zone when the journal
// carries one (DECLARE body field incident.timezone) or the caller sets
// Options.Location. When the incident spans more than one calendar day (in
// UTC or in the local zone) every time carries its date.
//
// When the DECLARE describes the war room (RoomInfo), the export also
// uses its roster (people's display names in the roles section), its
// escalation policy (stated beside the alerts; escalations are measured
// from the firing or from the upgrade to crit that cleared an ack, as
// the engine counts them) and each pane's clear level (a line on the
// charts). Older journals without them export as before. A launch's
// charts also mark T-0 (as last decided) and draw what the room drew after
// it: each pane's baseline band (BASELINE event) and its expected curve
// (the latest load-test result the declared plan draws on the pane),
// named in a legend row of their own.
package export
