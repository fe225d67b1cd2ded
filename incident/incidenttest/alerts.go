// Package incidenttest builds, for tests, the commands the room's own
// components submit to an engine, in the shapes they submit them: a test
// opens an alert the way a real alert arrives, not through a command only
// tests could issue.
//
// It is a package of its own (like net/http/httptest) so that every
// package's tests share one helper; the incident package's own tests
// cannot import it (an import cycle) and write their ImportAlerts out.
package incidenttest

import (
	"github.com/prometheus/common/model"

	"github.com/warroom/warroom/incident"
)

// Origin is the origin of the alerts Firing opens: Alertmanager's webhook
// in a room with no Prometheus source to lend it its name (see
// sources.Origin).
const Origin = "alertmanager"

// Firing is what Alertmanager's webhook (sources/prometheus
// Payload.Import) submits when one alert starts firing: one alert named
// name on service at level, keyed by the fingerprint of its labels
// (alertname, service, severity), of the rule alertname:name, and not a
// complete set, so it resolves nothing else. The same name on the same
// service is the same alert: a second Firing changes its level or does
// nothing, as Alertmanager's repeat notifications do.
func Firing(service string, level incident.Level, name string) incident.ImportAlerts {
	labels := map[string]string{"alertname": name, "service": service, "severity": severity[level]}
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return incident.ImportAlerts{Origin: Origin, Via: "webhook", Alerts: []incident.ExternalAlert{{
		Origin: Origin, Key: ls.Fingerprint().String(), Service: service, Name: name, Level: level,
		Firing: true, Labels: labels, Rule: "alertname:" + name}}}
}

// severity is the Alertmanager severity label of each level (the names
// config.DefaultSeverities maps back to it).
var severity = map[incident.Level]string{
	incident.LevelCrit: "critical",
	incident.LevelWarn: "warning",
	incident.LevelInfo: "info",
}
