package comms

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/outbox"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

// TestPublishCrashChild is the war-room process of TestPublishCrash: an
// engine and a publisher on the journal, publishing a stream of updates,
// until the parent kills it with SIGKILL. In final mode it publishes a few
// more and exits once everything is on the page.
func TestPublishCrashChild(t *testing.T) {
	path := os.Getenv("WARROOM_COMMS_CRASH_JOURNAL")
	if path == "" {
		t.Skip("run by TestPublishCrash")
	}
	fail := func(err error) {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	j, err := journal.Open(path)
	if err != nil {
		fail(err)
	}
	cfg := testConfig(os.Getenv("WARROOM_COMMS_CRASH_API"), os.Getenv("WARROOM_COMMS_CRASH_PAGE"))
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.Real{}})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	go eng.Run(ctx)
	pub, err := Start(ctx, Options{Engine: eng, Journal: j, HTTPClient: outbox.NewHTTPClient(2 * time.Second),
		Rate: 200, Burst: 20, CheckAfter: 30 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		fail(err)
	}
	fmt.Println("READY")
	final := os.Getenv("WARROOM_COMMS_CRASH_FINAL") == "1"
	n := 200
	if final {
		n = 5
	}
	statuses := []string{incident.StatusInvestigating, incident.StatusIdentified, incident.StatusMonitoring}
	for i := 1; i <= n; i++ {
		d := incident.Draft{Title: "Slow claims", Status: statuses[i%3], Body: fmt.Sprintf("crash update %d-%d", os.Getpid(), i), Notify: i%2 == 0}
		if i%7 == 0 {
			d.Components = []incident.ComponentChange{{ID: "claims", Status: []string{incident.ComponentDegraded, incident.ComponentPartial}[i%2]}}
		}
		if r := eng.Do(ctx, incident.SubmitUpdate{By: "rosa", Draft: d}); r.Err != nil {
			fail(r.Err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !final {
		select {} // until killed
	}
	end := time.Now().Add(40 * time.Second)
	for time.Now().Before(end) {
		st := pub.Status()
		if st.Queued == 0 && pub.ob.Cursor() == j.LastSeq() {
			fmt.Println("DRAINED", j.LastSeq())
			os.Exit(0)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fail(fmt.Errorf("not drained: %+v", pub.Status()))
}

// TestPublishCrash kills the publishing process with SIGKILL at random
// moments while Statuspage also loses answers after applying the request,
// restarts it each time, and checks that every published update appears
// on the page exactly once, in one incident.
func TestPublishCrash(t *testing.T) {
	if os.Getenv("WARROOM_COMMS_CRASH_JOURNAL") != "" {
		t.Skip("child")
	}
	kills := 6
	if testing.Short() {
		kills = 3
	}
	sp := spsim.New(spsim.Options{APIKey: apiKey, RatePerWindow: 100000, Seed: 5,
		Components: []spsim.Component{{ID: "cmpclaims001", Name: "Claims"}, {ID: "cmphistory01", Name: "Activity"}}})
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	sp.DropReplyProbability(0.15)

	path := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(13, uint64(time.Now().UnixNano())))
	run := func(final bool) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPublishCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WARROOM_COMMS_CRASH_JOURNAL="+path, "WARROOM_COMMS_CRASH_API="+sp.APIURL(),
			"WARROOM_COMMS_CRASH_PAGE="+sp.PageID(), "WARROOM_TEST_SP_KEY="+apiKey)
		if final {
			cmd.Env = append(cmd.Env, "WARROOM_COMMS_CRASH_FINAL=1")
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		next := func(d time.Duration) string {
			select {
			case l, ok := <-lines:
				if !ok {
					return "EOF"
				}
				return l
			case <-time.After(d):
				cmd.Process.Kill()
				return "TIMEOUT"
			}
		}
		if l := next(20 * time.Second); l != "READY" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %s", l)
		}
		if final {
			l := next(45 * time.Second)
			cmd.Wait()
			return l
		}
		time.Sleep(time.Duration(30+rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		return "KILLED"
	}
	for range kills {
		run(false)
	}
	if l := run(true); !strings.HasPrefix(l, "DRAINED") {
		t.Fatalf("final run: %s", l)
	}

	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var published []string
	delivered := map[string]bool{}
	err = j.Replay(context.Background(), 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err != nil {
			return err
		}
		switch {
		case ev.Kind == incident.KindUpdate && ev.Update.State == incident.UpdatePublished:
			published = append(published, ev.Update.Draft.Body)
		case ev.Kind == incident.KindDelivery && ev.Update.State == incident.DeliveryDelivered:
			delivered[ev.Update.ID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	incs := sp.Incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents on the page, want 1", len(incs))
	}
	onPage := map[string]int{}
	for _, u := range incs[0].IncidentUpdates {
		onPage[u.Body]++
	}
	for _, b := range published {
		if onPage[b] != 1 {
			t.Errorf("update %q is on the page %d times", b, onPage[b])
		}
	}
	if len(onPage) != len(published) {
		t.Errorf("%d updates on the page, %d published", len(onPage), len(published))
	}
	rows, err := j.OutboxRows(context.Background(), false, DestStatuspage)
	if err != nil {
		t.Fatal(err)
	}
	uncertain, states := 0, map[journal.OutboxState]int{}
	for _, r := range rows {
		states[r.State]++
		if r.WasUncertain {
			uncertain++
		}
	}
	if states[journal.OutboxDelivered] != len(rows) {
		t.Errorf("outbox states after draining: %v", states)
	}
	dropped := 0
	for _, q := range sp.Requests() {
		if q.Dropped {
			dropped++
		}
	}
	if uncertain == 0 {
		t.Errorf("no row was ever uncertain: the test did not exercise lost answers (%d dropped)", dropped)
	}
	t.Logf("%d kills, %d updates published, each on the page once; %d rows (%d were uncertain: %d answers lost by the page, the rest killed mid-request); %d DELIVERY events",
		kills, len(published), len(rows), uncertain, dropped, len(delivered))
}
