package export

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/demo.db was recorded with
//
//	warroom demo --headless --speed 40 --auto-ack --seed 1 --journal demo.db
//
// a whole simulated launch: rule and imported alerts, acks, five
// mitigations with approvals, samples and a Slack mirror. Its exports are
// compared byte for byte.
func TestGoldenDemoJournal(t *testing.T) {
	// Export a copy: a read-only open of a WAL journal may add -shm files.
	src, err := os.ReadFile(filepath.Join("testdata", "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    Format
		opt  Options
	}{
		{"demo/postmortem.md", Markdown, Options{}},
		{"demo/timeline.csv", CSV, Options{}},
		{"demo/tokens.csv", CSV, Options{Filter: Filter{Service: "tokens"}}},
	} {
		var buf bytes.Buffer
		if _, err := Export(context.Background(), path, c.f, "", &buf, c.opt); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		golden(t, c.name, buf.Bytes())
	}
	// The recorded launch shows the whole story in the postmortem.
	var md bytes.Buffer
	if _, err := Export(context.Background(), path, Markdown, "", &md, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Simulated run", "waf-mode", "db-terminate-idle-sessions", "lambda-reserved-concurrency", "rpc-traffic-split", "priority-fee", "succeeded"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the demo postmortem does not mention %q", want)
		}
	}
}
