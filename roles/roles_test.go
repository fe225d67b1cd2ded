package roles

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/warroom/warroom/config"
	"golang.org/x/crypto/ssh"
)

func key(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(ssh.MarshalAuthorizedKey(k))
}

func TestRosterLookups(t *testing.T) {
	k1, line1 := key(t)
	k2, _ := key(t)
	r := NewRoster([]config.Person{{Handle: "maya", Slack: "U1", SSHKeys: []string{line1}}, {Handle: "ari"}})
	if p, ok := r.ByKey(k1); !ok || p.Handle != "maya" {
		t.Fatalf("ByKey: %v %v", p, ok)
	}
	if _, ok := r.ByKey(k2); ok {
		t.Fatal("an unlisted key must not map to anyone")
	}
	if p, ok := r.BySlackID("U1"); !ok || p.Handle != "maya" {
		t.Fatal("BySlackID")
	}
	if _, ok := r.BySlackID("U2"); ok {
		t.Fatal("unknown Slack user must not map")
	}
}

func TestCheckReasons(t *testing.T) {
	r := NewRoster([]config.Person{{Handle: "maya"}, {Handle: "dee"}, {Handle: "sam"}, {Handle: "ola"}, {Handle: "obs"}})
	a := Assignments{Commander: "maya", Deputy: "dee", Scribe: "sam", Services: map[string]Owners{"tokens": {Primary: "ola"}, "free": {}}}
	cases := []struct {
		who     string
		act     Action
		svc     string
		refused string
	}{
		{"maya", ActAck, "tokens", ""},
		{"dee", ActAck, "tokens", ""},
		{"ola", ActAck, "tokens", ""},
		{"sam", ActAck, "tokens", "sam cannot ack tokens alerts: ola owns tokens"},
		{"sam", ActAck, "free", "nobody (unowned)"},
		{"obs", ActNote, "", "observer"},
		{"sam", ActNote, "", ""},
		{"sam", ActMarkImportant, "", ""},
		{"ola", ActMarkImportant, "", "only the commander, deputy or scribe"},
		{"dee", ActAssign, "", "only the commander (maya)"},
		{"ola", ActRunPlaybook, "tokens", ""},
		{"sam", ActRunPlaybook, "tokens", "cannot run tokens playbooks"},
		{"dee", ActApprove, "", "only the commander"},
		{"ghost", ActNote, "", "not on the roster"},
		{"maya", ActAnswerOffer, "", "no pending command offer"},
	}
	for _, c := range cases {
		err := a.Check(r, c.who, c.act, c.svc)
		if c.refused == "" {
			if err != nil {
				t.Errorf("%s %s %s: refused: %v", c.who, c.act, c.svc, err)
			}
			continue
		}
		var ref *Refusal
		if !errors.As(err, &ref) || !strings.Contains(ref.Reason, c.refused) {
			t.Errorf("%s %s %s: got %v, want a refusal saying %q", c.who, c.act, c.svc, err, c.refused)
		}
	}
}

func TestRolesOfAndClone(t *testing.T) {
	a := Assignments{Commander: "maya", Services: map[string]Owners{"b": {Primary: "maya"}, "a": {Backup: "maya"}}, Offer: &Offer{From: "maya", To: "ola"}}
	if got := strings.Join(a.RolesOf("maya"), ","); got != "commander,backup of a,owner of b" {
		t.Fatalf("RolesOf = %q", got)
	}
	c := a.Clone()
	c.Services["a"] = Owners{}
	c.Offer.To = "x"
	if a.Services["a"].Backup != "maya" || a.Offer.To != "ola" {
		t.Fatal("Clone must not share maps or the offer")
	}
}
