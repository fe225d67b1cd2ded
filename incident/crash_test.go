package incident

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
)

// TestCrashChild is the engine process of TestCrashSafety. It drives a
// burst of commands from several goroutines and prints each accepted
// reply; the parent kills it with SIGKILL at a random moment.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("WARROOM_CRASH_JOURNAL")
	if path == "" {
		t.Skip("run by TestCrashSafety")
	}
	j, err := journal.Open(path)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	e, err := New(Options{Config: testConfig(), Journal: j, Clock: clock.Real{}})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	go e.Run(context.Background())
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d-%d", w, os.Getpid(), i)
				r := e.Do(context.Background(), Note{By: "maya", Service: "tokens", Text: id})
				if r.Err != nil {
					fmt.Println("ERR", r.Err)
					os.Exit(3)
				}
				// Printed only after the reply: the parent may rely on it.
				mu.Lock()
				fmt.Fprintf(out, "OK %d %s\n", r.Seq, id)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestCrashSafety(t *testing.T) {
	if os.Getenv("WARROOM_CRASH_JOURNAL") != "" {
		t.Skip("child")
	}
	kills := 50
	if testing.Short() {
		kills = 10
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	acked := map[int64]string{}
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WARROOM_CRASH_JOURNAL="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait for the first accepted command, then kill at a random moment.
		first := <-lines
		if !strings.HasPrefix(first, "OK ") {
			cmd.Process.Kill()
			t.Fatalf("child: %s", first)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		n := 0
		for l := range append0(first, lines) {
			var seq int64
			var id string
			if _, err := fmt.Sscanf(l, "OK %d %s", &seq, &id); err != nil {
				if strings.HasPrefix(l, "OK") {
					continue // a line cut short by the kill
				}
				t.Fatalf("child said %q", l)
			}
			acked[seq] = id
			n++
		}
		if n == 0 {
			t.Fatalf("kill %d: no command was acknowledged", i)
		}
	}

	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	journaltest.IntegrityCheck(t, path)
	texts := map[int64]string{}
	var prev int64
	declares := 0
	err = j.Replay(context.Background(), 0, func(je journal.Event) error {
		if je.Seq != prev+1 {
			return fmt.Errorf("gap: #%d after #%d", je.Seq, prev)
		}
		prev = je.Seq
		ev, err := FromJournal(je)
		if err != nil {
			return err
		}
		if ev.Kind == KindDeclare {
			declares++
		}
		texts[ev.Seq] = ev.Text
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if declares != 1 {
		t.Fatalf("%d DECLARE events; a restart must replay, not re-declare", declares)
	}
	for seq, id := range acked {
		if texts[seq] != id {
			t.Fatalf("acknowledged #%d %q is missing after SIGKILL (journal has %q)", seq, id, texts[seq])
		}
	}
	t.Logf("%d kills, %d acknowledged commands all durable, %d events contiguous", kills, len(acked), prev)
}

// append0 yields first and then everything from ch.
func append0(first string, ch <-chan string) <-chan string {
	out := make(chan string, 1)
	go func() {
		out <- first
		for l := range ch {
			out <- l
		}
		close(out)
	}()
	return out
}
