package playbooks

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// The journal has one writer: the process that opened it (warroom run,
// serve, demo, or a headless `warroom playbook run`). Other terminals act
// on its runs through a control socket beside the journal, <journal>.sock,
// a Unix socket only the same OS user can open (mode 0600). Every action
// still goes through the engine's checks: the socket carries requests,
// never decisions. It speaks one JSON object per line.

// ControlPath is the control socket of a journal: beside a journal file;
// for a postgres:// room, in this user's runtime directory, named after
// the room's URL without its password (the room's leader on this machine
// serves it).
func ControlPath(journalPath string) string {
	if !journal.IsURL(journalPath) {
		return journalPath + ".sock"
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("warroom-%d", os.Getuid()))
	}
	sum := sha256.Sum256([]byte(journal.Name(journalPath)))
	return filepath.Join(dir, "warroom-"+hex.EncodeToString(sum[:8])+".sock")
}

// maxSocketPath is the portable limit of a Unix socket path.
const maxSocketPath = 104

// ControlRequest is one request on the control socket.
type ControlRequest struct {
	Op       string            `json:"op"` // room, show, approve, reject, cancel, resolve, run, do, launch
	By       string            `json:"by,omitempty"`
	Run      string            `json:"run,omitempty"`
	Hash     string            `json:"hash,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Choice   string            `json:"choice,omitempty"`
	Playbook string            `json:"playbook,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	// Cmd (op "do") is an engine command as incident.EncodeCommand
	// writes it: one a person gives (a note, an ack, launch evidence, a
	// decision), checked by the engine against By's permissions as if
	// given in the dashboard.
	Cmd json.RawMessage `json:"cmd,omitempty"`
}

// ControlReply is one line of an answer. A run streams events and output
// lines, then a final reply with Done set.
type ControlReply struct {
	OK      bool          `json:"ok,omitempty"`
	Error   string        `json:"error,omitempty"`
	Refused bool          `json:"refused,omitempty"` // a refusal (permissions, state, lock)
	BadArgs bool          `json:"bad_args,omitempty"`
	Run     *RunSummary   `json:"run,omitempty"`
	Event   string        `json:"event,omitempty"` // a committed event, headless format
	Output  *OutputLine   `json:"output,omitempty"`
	Done    bool          `json:"done,omitempty"`
	Waiting *WaitApproval `json:"waiting,omitempty"`
	Room    *RoomSummary  `json:"room,omitempty"`
	// DryRun (op "run") is the request's dry run as Plan.Text shows it,
	// sent before the run is requested.
	DryRun string `json:"dry_run,omitempty"`
	// Seq is the last event an accepted "do" committed (0: it needed
	// none).
	Seq int64 `json:"seq,omitempty"`
	// Lines are the launch board (op "launch").
	Lines []string `json:"lines,omitempty"`
	// Now is the room's time (op "launch"; the demo's clock runs fast),
	// and Zone the room's time zone, for times people write (+30m, 10:30).
	Now  time.Time `json:"now,omitzero"`
	Zone string    `json:"zone,omitempty"`
}

// RoomSummary tells a terminal which war room serves a journal, so that
// commands given only --journal (or run in the room's directory) need no
// -c: the war-room file and who is on its roster.
type RoomSummary struct {
	Config string   `json:"config"` // the war-room file's path
	Name   string   `json:"name"`
	People []string `json:"people"` // roster handles
}

// RunSummary describes a run for approvers and scripts.
type RunSummary struct {
	ID        string            `json:"id"`
	Playbook  string            `json:"playbook"`
	Title     string            `json:"title,omitempty"`
	Service   string            `json:"service"`
	State     incident.RunState `json:"state"`
	Step      string            `json:"step,omitempty"`
	Requester string            `json:"requester"`
	Params    map[string]string `json:"params,omitempty"`
	Hash      string            `json:"hash"`
	Error     string            `json:"error,omitempty"`
	Risk      string            `json:"risk,omitempty"`
	Approvers []string          `json:"approvers,omitempty"`
	Expires   time.Time         `json:"expires,omitzero"`
	// Plan is the requester's dry run (old → new), for approvers.
	Plan *incident.RunPlan `json:"plan,omitempty"`
}

// WaitApproval tells the requester what to do while a run waits.
type WaitApproval struct {
	Run       string    `json:"run"`
	Hash      string    `json:"hash"`
	Approvers []string  `json:"approvers"`
	Expires   time.Time `json:"expires"`
}

// Summary describes a run of the engine state.
func (r *Runner) Summary(st *incident.State, id string) (*RunSummary, bool) {
	run := st.Runs[id]
	if run == nil {
		return nil, false
	}
	s := &RunSummary{ID: run.ID, Playbook: run.Playbook, Service: run.Service, State: run.State, Step: run.Step,
		Requester: run.Actor, Params: run.Params, Hash: run.Hash, Error: run.Error, Plan: run.Plan}
	if pb, ok := r.cat.Get(run.Playbook); ok {
		s.Title, s.Risk = pb.Title, string(pb.Risk)
		if pb.Approval != nil {
			for _, a := range pb.Approval.Approvers {
				s.Approvers = append(s.Approvers, string(a))
			}
			s.Expires = run.Started.Add(pb.Approval.Expires)
		}
	}
	return s, true
}

// ServeControl listens on path (see ControlPath) until ctx ends. The
// process that owns the journal calls it so other terminals can approve,
// cancel, resolve or request runs.
func ServeControl(ctx context.Context, path string, r *Runner) (io.Closer, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is too long (%d bytes, at most %d): use a shorter journal path", path, len(path), maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if st, err := os.Stat(filepath.Dir(path)); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
			return nil, fmt.Errorf("control socket directory %s belongs to another user", filepath.Dir(path))
		}
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another warroom process serves %s", path)
		}
		if err := os.Remove(path); err != nil { // stale, from a process that died
			return nil, err
		}
	}
	// No process-wide umask (other goroutines create files): the mode is
	// set right after the socket is made, and until then (and always) a
	// connection from another user is refused by its peer credentials.
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &controlServer{r: r, ln: ln, path: path}
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		ln.Close()
	}()
	s.wg.Add(1)
	go s.accept(ctx)
	return s, nil
}

type controlServer struct {
	r      *Runner
	ln     net.Listener
	path   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func (s *controlServer) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		os.Remove(s.path)
	})
	return nil
}

func (s *controlServer) accept(ctx context.Context) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !peerAllowed(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.handle(ctx, c)
		}()
	}
}

func (s *controlServer) handle(ctx context.Context, c net.Conn) {
	enc := json.NewEncoder(c)
	var mu sync.Mutex
	send := func(rep ControlReply) error {
		mu.Lock()
		defer mu.Unlock()
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return enc.Encode(rep)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var req ControlRequest
	if err := json.NewDecoder(io.LimitReader(c, 64<<10)).Decode(&req); err != nil {
		send(ControlReply{Error: "bad request: " + err.Error(), BadArgs: true})
		return
	}
	c.SetReadDeadline(time.Time{})
	fail := func(err error) {
		var ref *roles.Refusal
		var pe *ParamError
		send(ControlReply{Error: err.Error(), Refused: errors.As(err, &ref), BadArgs: errors.As(err, &pe)})
	}
	r := s.r
	switch req.Op {
	case "room":
		cfg := r.eng.Config()
		path := cfg.Path
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		sum := &RoomSummary{Config: path, Name: cfg.Incident.Name}
		for _, p := range r.eng.Roster().People() {
			sum.People = append(sum.People, p.Handle)
		}
		send(ControlReply{OK: true, Room: sum})
	case "show":
		st, err := r.state(ctx)
		if err != nil {
			fail(err)
			return
		}
		sum, ok := r.Summary(st, req.Run)
		if !ok {
			fail(roles.Refuse("no run %s", req.Run))
			return
		}
		send(ControlReply{OK: true, Run: sum})
	case "approve":
		if err := r.Approve(ctx, req.By, req.Run, req.Hash); err != nil {
			fail(err)
			return
		}
		send(ControlReply{OK: true})
	case "reject":
		if err := r.Reject(ctx, req.By, req.Run, req.Reason); err != nil {
			fail(err)
			return
		}
		send(ControlReply{OK: true})
	case "cancel":
		if err := r.Cancel(ctx, req.By, req.Run, req.Reason); err != nil {
			fail(err)
			return
		}
		send(ControlReply{OK: true})
	case "resolve", "run":
		// Both stream the run's events and output until its goroutine
		// is done with it.
		st, sub, err := r.eng.Subscribe(ctx, 1024)
		if err != nil {
			fail(err)
			return
		}
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		feed := incident.Feed(fctx, r.eng, sub, 1024)
		var h *Handle
		if req.Op == "run" {
			h, err = r.RequestShown(ctx, req.By, req.Playbook, req.Params, func(p *Plan) { send(ControlReply{DryRun: p.Text()}) })
		} else {
			h, err = r.Resolve(ctx, req.By, req.Run, incident.ResolveChoice(req.Choice), req.Reason)
		}
		if err != nil {
			fail(err)
			return
		}
		id := h.ID
		if req.Op == "run" {
			// The requester learns the run's id at once: interrupted,
			// their terminal cancels it by id.
			send(ControlReply{OK: true, Run: &RunSummary{ID: id, Playbook: h.Playbook.ID, Service: h.Playbook.Service, State: incident.RunRequested, Requester: req.By, Hash: h.Hash}})
		}
		unwatch := r.watchOutput(func(l OutputLine) {
			if l.RunID == id {
				send(ControlReply{Output: &l})
			}
		})
		defer unwatch()
		s.stream(ctx, h, st.LastSeq, feed, send)
	case "do":
		cmd, err := incident.DecodeCommand(req.Cmd)
		if err != nil {
			send(ControlReply{Error: err.Error(), BadArgs: true})
			return
		}
		rep := r.eng.Do(ctx, cmd)
		if rep.Err != nil {
			fail(rep.Err)
			return
		}
		out := ControlReply{OK: true, Seq: rep.Seq}
		for _, ev := range rep.Events {
			out.Lines = append(out.Lines, ev.Line())
		}
		send(out)
	case "launch":
		st, err := r.state(ctx)
		if err != nil {
			fail(err)
			return
		}
		cfg, now := r.eng.Config(), r.eng.Clock().Now()
		lines, err := st.LaunchBoard(cfg, now)
		if err != nil {
			// No plan in the file: the request asks for what the room has not.
			send(ControlReply{Error: err.Error(), BadArgs: true})
			return
		}
		send(ControlReply{OK: true, Lines: lines, Now: now, Zone: cfg.Incident.Location().String()})
	default:
		send(ControlReply{Error: "unknown op " + req.Op, BadArgs: true})
	}
}

// stream sends every committed event after seq seen (from feed) until
// the run's goroutine is done, then the run's summary. Events missed
// while the client fell behind are not sent.
func (s *controlServer) stream(ctx context.Context, h *Handle, seen int64, feed <-chan incident.FeedItem, send func(ControlReply) error) {
	r := s.r
	toldWaiting := false
	done := h.Done()
	var end *incident.State // the state once the run's goroutine is done
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			st, err := r.state(context.Background())
			if err != nil {
				send(ControlReply{Error: err.Error(), Done: true})
				return
			}
			end, done = st, nil
		case it, ok := <-feed:
			if !ok {
				feed = nil // the engine stopped
				break
			}
			if it.State != nil {
				seen = it.State.LastSeq // fell behind
			}
			for _, ev := range it.Update.Events {
				seen = ev.Seq
				if err := send(ControlReply{Event: ev.Line()}); err != nil {
					return
				}
				if !toldWaiting && ev.Run != nil && ev.Run.ID == h.ID && ev.Run.State == incident.RunAwaitingApproval {
					toldWaiting = true
					w := &WaitApproval{Run: h.ID, Hash: h.Hash, Expires: ev.Time.Add(h.Playbook.Approval.Expires)}
					for _, a := range h.Playbook.Approval.Approvers {
						w.Approvers = append(w.Approvers, string(a))
					}
					send(ControlReply{Waiting: w})
				}
			}
		}
		// Done: what was committed before the end is sent first.
		if end != nil && (seen >= end.LastSeq || feed == nil) {
			sum, _ := r.Summary(end, h.ID)
			send(ControlReply{OK: true, Done: true, Run: sum})
			return
		}
	}
}

// watchOutput adds a listener for step output; the returned func
// removes it.
func (r *Runner) watchOutput(f func(OutputLine)) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watchers == nil {
		r.watchers = map[int]func(OutputLine){}
	}
	r.nextWatch++
	id := r.nextWatch
	r.watchers[id] = f
	return func() {
		r.mu.Lock()
		delete(r.watchers, id)
		r.mu.Unlock()
	}
}

// ControlClient talks to the process that owns a journal.
type ControlClient struct{ path string }

// DialControl checks that a process serves the journal's control socket.
func DialControl(journalPath string) (*ControlClient, error) {
	path := ControlPath(journalPath)
	if abs, err := filepath.Abs(path); err == nil && len(abs) <= maxSocketPath {
		path = abs
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("no warroom process is serving %s: %w", journalPath, err)
	}
	c.Close()
	return &ControlClient{path: path}, nil
}

// Do sends a request and calls each for every reply line; it returns the
// last reply.
func (c *ControlClient) Do(ctx context.Context, req ControlRequest, each func(ControlReply)) (ControlReply, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		return ControlReply{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return ControlReply{}, err
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var last ControlReply
	for sc.Scan() {
		var rep ControlReply
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			return last, fmt.Errorf("bad reply: %w", err)
		}
		last = rep
		if each != nil {
			each(rep)
		}
		if rep.Error != "" || rep.Done || (req.Op != "run" && req.Op != "resolve") {
			return rep, nil
		}
	}
	if err := sc.Err(); err != nil {
		return last, err
	}
	if ctx.Err() != nil {
		return last, ctx.Err()
	}
	return last, errors.New("the warroom process closed the connection")
}
