package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// TestHeaderShowsWhoLeads: in a shared room the header says which node
// leads and, on a standby, how far behind it is; a standby without a
// leader or that cannot read the journal says so.
func TestHeaderShowsWhoLeads(t *testing.T) {
	for _, c := range []struct {
		info incident.ClusterInfo
		want string
	}{
		{incident.ClusterInfo{Node: "wr-a", Role: incident.RoleLeader, Leader: "wr-a", Term: 3}, "lead wr-a  (here)"},
		{incident.ClusterInfo{Node: "wr-b", Role: incident.RoleStandby, Leader: "wr-a", Lag: 1200 * time.Millisecond, Behind: 4}, "lead wr-a  standby wr-b · lag 1.2s (4 behind)"},
		{incident.ClusterInfo{Node: "wr-b", Role: incident.RoleStandby}, "no leader  standby wr-b"},
		{incident.ClusterInfo{Node: "wr-b", Role: incident.RoleStandby, Leader: "wr-a", Problem: "cannot read the journal"}, "journal unreachable  standby wr-b: what you see may be old"},
		{incident.ClusterInfo{Node: "wr-a", Role: incident.RoleSteppingDown}, "wr-a lost the lead"},
	} {
		f := newFakeEngine()
		m := newTestModel(t, f, "maya", 160, 40)
		info := c.info
		m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Cluster: &info}}})
		head := strings.SplitN(plainView(m), "\n", 2)[0]
		if !strings.Contains(head, c.want) {
			t.Errorf("%+v: header %q lacks %q", c.info, head, c.want)
		}
	}
	// At 80 columns the leader is still named.
	m80 := newTestModel(t, newFakeEngine(), "maya", 80, 24)
	info := incident.ClusterInfo{Node: "wr-b", Role: incident.RoleStandby, Leader: "wr-a"}
	m80.Update(feedMsg{feed: m80.feed, ups: []incident.Update{{Now: tNow.UTC(), Cluster: &info}}})
	if head := strings.SplitN(plainView(m80), "\n", 2)[0]; !strings.Contains(head, "lead wr-a") {
		t.Errorf("80 columns: %q", head)
	}
	// A room of one process shows nothing of the kind.
	m := newTestModel(t, newFakeEngine(), "maya", 160, 40)
	if head := strings.SplitN(plainView(m), "\n", 2)[0]; strings.Contains(head, "lead") || strings.Contains(head, "standby") {
		t.Errorf("header of a room of one process: %q", head)
	}
}
