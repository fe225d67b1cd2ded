package journal

// Standbys learn of new events, commands and answers through LISTEN/NOTIFY
// on a connection of their own, and poll every PollEvery as well, so a lost
// notification (a broken listen connection, a pooler that drops them)
// costs at most one poll.

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// signal is a broadcast: C returns a channel that is closed at the next
// fire.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) init() { s.ch = make(chan struct{}) }

func (s *signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

type listener struct {
	once sync.Once
	head atomic.Int64 // the newest seq a notification announced
}

// Changes returns a channel closed at the next notification for this room
// (events committed, a command forwarded or answered, a new term) or the
// next poll, whichever comes first. Callers look at what changed and call
// Changes again.
func (j *Postgres) Changes() <-chan struct{} {
	j.lis.once.Do(func() {
		j.bg.Add(1)
		go j.listen()
	})
	return j.sig.C()
}

// Head is the newest seq committed in the room that this process knows
// of (from notifications, polls and its own commits).
func (j *Postgres) Head() int64 { return max(j.lis.head.Load(), j.lastSeq.Load()) }

func (j *Postgres) listen() {
	defer j.bg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-j.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	prefixes := []string{"e:" + j.room + ":", "c:" + j.room + ":", "r:" + j.room + ":", "l:" + j.room + ":"}
	var c *pgx.Conn
	defer func() {
		if c != nil {
			cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
			c.Close(cctx)
			ccancel()
		}
	}()
	for ctx.Err() == nil {
		if c == nil || c.IsClosed() {
			cfg := j.cfg.Copy()
			cfg.RuntimeParams["application_name"] = "warroom listener " + j.o.Node
			cctx, ccancel := context.WithTimeout(ctx, j.o.DeadAfter)
			var err error
			c, err = pgx.ConnectConfig(cctx, cfg)
			if err == nil {
				_, err = c.Exec(cctx, "LISTEN "+notifyChannel)
			}
			ccancel()
			if err != nil {
				if c != nil {
					c.Close(context.Background())
					c = nil
				}
				j.poll()
				select {
				case <-ctx.Done():
				case <-time.After(j.o.PollEvery):
				}
				continue
			}
			j.poll() // whatever happened while not listening
		}
		wctx, wcancel := context.WithTimeout(ctx, j.o.PollEvery)
		n, err := c.WaitForNotification(wctx)
		wcancel()
		if err != nil {
			j.poll()
			continue
		}
		for _, p := range prefixes {
			if rest, ok := strings.CutPrefix(n.Payload, p); ok {
				if p[0] == 'e' {
					if seq, err := strconv.ParseInt(rest, 10, 64); err == nil {
						for {
							old := j.lis.head.Load()
							if seq <= old || j.lis.head.CompareAndSwap(old, seq) {
								break
							}
						}
					}
				}
				j.sig.fire()
				break
			}
		}
	}
}

// poll refreshes the newest seq (a standby's) and wakes the waiters.
func (j *Postgres) poll() {
	if !j.leading.Load() {
		if err := j.Refresh(); err == nil {
			last := j.lastSeq.Load()
			for {
				old := j.lis.head.Load()
				if last <= old || j.lis.head.CompareAndSwap(old, last) {
					break
				}
			}
		}
	}
	j.sig.fire()
}
