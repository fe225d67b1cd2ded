package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe/hostile"
)

// TestHostileAlertTextThroughTailAndTimeline: an Alertmanager webhook
// carrying escape sequences, OSC 8/52, DCS, bidi and NUL in its alert
// name and summary, and a note with the same, come out of `ssh … tail`
// and /api/timeline with none of those bytes raw.
func TestHostileAlertTextThroughTailAndTimeline(t *testing.T) {
	g := newRig(t, nil)
	for i, h := range hostile.Corpus {
		h = strings.ToValidUTF8(h, "?") // JSON carries only valid UTF-8
		name, _ := json.Marshal(fmt.Sprintf("Alert%d %s", i, h))
		body := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":%s,"service":"tokens","severity":"critical"},"annotations":{"summary":%s}}]}`, name, name)
		if code := postWebhook(t, g, body, nil); code != 200 {
			t.Fatalf("webhook: %d", code)
		}
		if rep := g.r.Engine.Do(context.Background(), incident.Note{By: "alice", Text: h}); rep.Err != nil {
			t.Fatal(rep.Err)
		}
	}
	end := "end-of-hostile-corpus"
	if rep := g.r.Engine.Do(context.Background(), incident.Note{By: "alice", Text: end}); rep.Err != nil {
		t.Fatal(rep.Err)
	}

	sess, err := g.client("olga").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	pipe, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("tail"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), end) {
				break
			}
		}
		got <- all.String()
	}()
	var tail string
	select {
	case tail = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not reach the last note")
	}
	if !strings.Contains(tail, "ALERT tokens") || !strings.Contains(tail, "␛[8mhidden") {
		t.Fatalf("tail lacks the alerts or their visible text:\n%s", tail)
	}
	if bad := hostile.Find([]byte(tail)); bad != "" {
		t.Fatalf("tail: %s", bad)
	}

	req, _ := http.NewRequest("GET", "http://"+g.s.HTTPAddr()+"/api/timeline", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bad := hostile.Find(raw); bad != "" {
		t.Fatalf("/api/timeline: %s", bad)
	}
}
