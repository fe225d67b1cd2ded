package config

import (
	"testing"
	"time"
)

func TestCommsDefaults(t *testing.T) {
	c, err := Load("testdata/good/comms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cm := c.Comms
	if cm.Cadence.Every.D() != 20*time.Minute || cm.Cadence.AfterChange.D() != DefaultCadenceAfterChange {
		t.Errorf("cadence %+v", cm.Cadence)
	}
	if !cm.Approval.NeedsFirst() || cm.Approval.NeedsStatusChange() || cm.Approval.Every {
		t.Errorf("approval %+v", cm.Approval)
	}
	if cm.Statuspage.APIURL != DefaultStatuspageURL || !cm.Statuspage.NotifyDefault() || cm.Statuspage.APIKey.Env != "STATUSPAGE_API_KEY" {
		t.Errorf("statuspage %+v", cm.Statuspage)
	}
	if got := cm.TemplateByID("investigating").Body; got != "We are investigating slow claims.\nYour tokens are safe.\n" {
		t.Errorf("body %q", got)
	}
	if cm.ComponentByID("claims").Name != "Claims" || cm.ComponentByID("nope") != nil {
		t.Error("component lookup")
	}
	s := c.Incident.Severities
	if s.Name("SEV1") != "Critical" || s.Name("SEV2") != "Degraded claims" || s.Name("SEV5") != "" {
		t.Errorf("severities %+v", s)
	}
	if cm.Title != "Wallet" {
		t.Errorf("title %q", cm.Title)
	}
}
