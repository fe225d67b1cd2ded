package paging

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/journal"
	pdsim "github.com/warroom/warroom/sim/pagerduty"
)

// TestPagingCrashChild is the war room of TestPagingCrash: an engine and
// a Pager on the journal, in real time. The first run raises an alert
// whose owner is paged a second later; the parent kills it while
// PagerDuty holds the answer to that trigger. The second run only resumes
// and exits once the outbox is empty.
func TestPagingCrashChild(t *testing.T) {
	path := os.Getenv("WARROOM_PAGING_CRASH_JOURNAL")
	if path == "" {
		t.Skip("run by TestPagingCrash")
	}
	fail := func(err error) {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	cfg := testConfig(os.Getenv("WARROOM_PAGING_CRASH_PD"))
	cfg.Escalation = config.Escalation{Owner: config.Duration(time.Second), Backup: config.Duration(time.Hour), Commander: config.Duration(2 * time.Hour)}
	j, err := journal.Open(path)
	if err != nil {
		fail(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.Real{}})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	go eng.Run(ctx)
	p, err := Start(ctx, Options{Engine: eng, Journal: j, CheckAfter: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		fail(err)
	}
	fmt.Println("READY")
	if os.Getenv("WARROOM_PAGING_CRASH_RESUME") == "" {
		if r := eng.Do(ctx, incidenttest.Firing("tokens", incident.LevelCrit, "claims failing")); r.Err != nil {
			fail(r.Err)
		}
		select {} // until killed
	}
	end := time.Now().Add(20 * time.Second)
	for time.Now().Before(end) {
		if st := p.Status(); st.Queued == 0 && p.ob.Cursor() >= j.LastSeq() {
			fmt.Println("DRAINED")
			os.Exit(0)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fail(fmt.Errorf("not drained: %+v", p.Status()))
}

// TestPagingCrash: kill -9 after PagerDuty applied a trigger and before
// its answer arrived. After the restart the trigger is sent again with
// the same dedup_key, and PagerDuty has one incident, not two.
func TestPagingCrash(t *testing.T) {
	if os.Getenv("WARROOM_PAGING_CRASH_JOURNAL") != "" {
		t.Skip("child")
	}
	key := pdsim.NewRoutingKey()
	held := make(chan pdsim.Event, 1)
	release := make(chan struct{})
	defer close(release)
	pd := pdsim.New(pdsim.Options{Integrations: []pdsim.Integration{{RoutingKey: key, ServiceID: "PSVC001", ServiceName: "war room", Assignee: pdsim.User{ID: "PALICE1", Name: "Alice"}}}})
	if err := pd.Start(); err != nil {
		t.Fatal(err)
	}
	defer pd.Close()
	var once sync.Once
	pd.BeforeReply(func(ev pdsim.Event) {
		if ev.Action != "trigger" {
			return
		}
		hold := false
		once.Do(func() { hold = true })
		if hold {
			held <- ev
			<-release // the answer never leaves while the child lives
		}
	})
	path := filepath.Join(t.TempDir(), "crash.db")
	run := func(resume bool) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPagingCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WARROOM_PAGING_CRASH_JOURNAL="+path, "WARROOM_PAGING_CRASH_PD="+pd.URL(), keyEnv+"="+key, secretEnv+"="+secret)
		if resume {
			cmd.Env = append(cmd.Env, "WARROOM_PAGING_CRASH_RESUME=1")
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 8)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		if l := <-lines; l != "READY" {
			cmd.Process.Kill()
			t.Fatalf("child: %s", l)
		}
		if !resume {
			return cmd
		}
		select {
		case l := <-lines:
			if l != "DRAINED" {
				t.Fatalf("resumed child: %s", l)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the resumed child did not drain")
		}
		cmd.Wait()
		return cmd
	}
	child := run(false)
	var ev pdsim.Event
	select {
	case ev = <-held:
	case <-time.After(30 * time.Second):
		child.Process.Kill()
		t.Fatal("no trigger reached PagerDuty")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	run(true)

	var triggers []pdsim.Event
	for _, e := range pd.Events() {
		if e.Action == "trigger" && e.Status == 202 {
			triggers = append(triggers, e)
		}
	}
	incs := pd.Incidents()
	if len(triggers) != 2 || triggers[1].DedupKey != ev.DedupKey || len(incs) != 1 || incs[0].Triggers != 2 || incs[0].Notified != 1 {
		t.Fatalf("triggers %+v, incidents %+v", triggers, incs)
	}
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rows, err := j.OutboxRows(context.Background(), false, DestPagerDuty)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].State != journal.OutboxDelivered || !rows[0].WasUncertain || rows[0].Attempts != 2 {
		t.Fatalf("rows %+v", rows)
	}
	t.Logf("trigger %s applied, answer lost to kill -9; resent after restart: %d triggers, %d incident", ev.DedupKey, len(triggers), len(incs))
}
