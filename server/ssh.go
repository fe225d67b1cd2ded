package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"github.com/charmbracelet/colorprofile"
	gossh "golang.org/x/crypto/ssh"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/launch"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
	"github.com/warroom/warroom/tui"
)

// Permission extensions set only after a signature check (see verified).
const (
	extHandle = "warroom-handle"
	extFP     = "warroom-fingerprint"
)

func (s *Server) newSSH(signer gossh.Signer) *ssh.Server {
	srv := &ssh.Server{
		HostSigners:      []ssh.Signer{signer},
		Version:          "warroom",
		HandshakeTimeout: handshakeTimeout,
		// Public keys only: no password or keyboard-interactive handler is
		// set, so the server offers "publickey" and nothing else.
		PublicKeyHandler: s.offered,
		ServerConfigCallback: func(ssh.Context) *gossh.ServerConfig {
			return &gossh.ServerConfig{VerifiedPublicKeyCallback: s.verified}
		},
		ConnectionFailedCallback: func(c net.Conn, err error) {
			s.o.Audit.Info("ssh connection failed", "remote", c.RemoteAddr().String(), "err", err.Error())
		},
	}
	srv.Handler = s.session
	return srv
}

// offered is called for every key a client offers or tries, before (or
// without) any proof that the client holds the private key. It only
// decides whether the key is worth a signature; it records no identity.
func (s *Server) offered(ctx ssh.Context, key ssh.PublicKey) bool {
	if s.onOffer != nil {
		s.onOffer(gossh.FingerprintSHA256(key))
	}
	if _, ok := s.r.Engine.Roster().ByKey(key); ok {
		return true
	}
	s.o.Audit.Info("ssh key refused", "reason", "not on the roster", "user", ctx.User(),
		"remote", ctx.RemoteAddr().String(), "fingerprint", gossh.FingerprintSHA256(key))
	return false
}

// verified is called by x/crypto only after the client's signature over
// the session was checked with key. The identity is taken here and
// nowhere else, so a key merely offered (CVE-2024-45337) never names the
// person.
func (s *Server) verified(conn gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
	p, ok := s.r.Engine.Roster().ByKey(key)
	if !ok {
		return nil, errors.New("key not on the roster")
	}
	if perms == nil {
		perms = &gossh.Permissions{}
	}
	if perms.Extensions == nil {
		perms.Extensions = map[string]string{}
	}
	perms.Extensions[extHandle] = p.Handle
	perms.Extensions[extFP] = gossh.FingerprintSHA256(key)
	return perms, nil
}

// identify resolves the session's person from the connection's final
// permissions (those of the verified key) and cross-checks them with the
// session's public key against the roster.
func (s *Server) identify(sess ssh.Session) (roles.Person, string, error) {
	sc, ok := sess.Context().Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	if !ok || sc.Permissions == nil {
		return roles.Person{}, "", errors.New("no authenticated connection")
	}
	handle, fp := sc.Permissions.Extensions[extHandle], sc.Permissions.Extensions[extFP]
	key := sess.PublicKey()
	if handle == "" || fp == "" || key == nil {
		return roles.Person{}, fp, errors.New("not authenticated with a verified public key")
	}
	if got := gossh.FingerprintSHA256(key); got != fp {
		return roles.Person{}, fp, fmt.Errorf("session key %s is not the verified key %s", got, fp)
	}
	p, ok := s.r.Engine.Roster().ByKey(key)
	if !ok || p.Handle != handle {
		return roles.Person{}, fp, errors.New("verified key does not match the roster")
	}
	return p, fp, nil
}

type sessInfo struct {
	person    roles.Person
	lastInput atomic.Int64 // monotonic: nanoseconds since epoch
	idled     atomic.Bool
	prog      atomic.Pointer[tea.Program]
	pty       ssh.Pty // as requested (the window is the first one)
	winch     <-chan ssh.Window
	quiet     bool // no bell or desktop notifications (the quiet command)
}

func (s *Server) session(sess ssh.Session) {
	remote := sess.RemoteAddr().String()
	p, fp, err := s.identify(sess)
	if err != nil {
		s.o.Audit.Warn("ssh session refused", "remote", remote, "fingerprint", fp, "err", err.Error())
		fmt.Fprintln(sess.Stderr(), "warroom: not authorized")
		_ = sess.Exit(1)
		return
	}
	n := s.sessions.Add(1)
	defer s.sessions.Add(-1)
	mine := s.perPerson(p.Handle, 1)
	defer s.perPerson(p.Handle, -1)
	log := s.o.Audit.With("handle", p.Handle, "fingerprint", fp, "remote", remote, "session", shortID(sess.Context().SessionID()))
	if n > int64(s.o.MaxSessions) {
		log.Warn("ssh session refused", "reason", "max sessions", "max", s.o.MaxSessions)
		fmt.Fprintf(sess.Stderr(), "warroom: the room is full (%d sessions); try again later\n", s.o.MaxSessions)
		_ = sess.Exit(1)
		return
	}
	if mine > s.o.MaxSessionsPerPerson {
		// One key cannot take every seat of the room.
		log.Warn("ssh session refused", "reason", "max sessions per person", "max", s.o.MaxSessionsPerPerson)
		fmt.Fprintf(sess.Stderr(), "warroom: %s already has %d sessions open; close one first\n", p.Handle, s.o.MaxSessionsPerPerson)
		_ = sess.Exit(1)
		return
	}
	cmd := sess.Command()
	// The session's pty is read once, here: charm.land/ssh writes its
	// window on each window-change without a lock, so later reads would
	// race with a client resizing (sizes come from winch instead).
	pty, winch, hasPTY := sess.Pty()
	mode := sessionOf(cmd, hasPTY)
	start := time.Now()
	if mode == modeCommand {
		log = log.With("command", cmd[0])
	}
	log.Info("ssh connect", "mode", string(mode), "user", sess.User())
	defer func() {
		log.Info("ssh disconnect", "mode", string(mode), "duration", time.Since(start).Round(time.Millisecond).String())
	}()

	switch mode {
	case modeTail:
		err := s.r.FollowEvents(sess.Context(), 0, func(ev incident.Event) error {
			_, err := fmt.Fprintln(sess, ev.Line())
			return err
		})
		if err != nil {
			_ = sess.Exit(1)
			return
		}
		_ = sess.Exit(0)
	case modeWhoami:
		fmt.Fprintln(sess, p.Handle)
		_ = sess.Exit(0)
	case modeCommand:
		_ = sess.Exit(s.command(sess, p.Handle, cmd))
	case modeLaunch:
		st, err := incident.Snapshot(sess.Context(), s.r.Engine)
		if err != nil {
			fmt.Fprintf(sess.Stderr(), "warroom: %s\n", textsafe.Line(err.Error()))
			_ = sess.Exit(3)
			return
		}
		lines, err := st.LaunchBoard(s.r.Engine.Config(), s.r.Engine.Clock().Now())
		if err != nil {
			// As warroom launch status: no plan is bad input, exit 1.
			fmt.Fprintf(sess.Stderr(), "warroom: %s\n", textsafe.Line(err.Error()))
			_ = sess.Exit(1)
			return
		}
		for _, l := range lines {
			fmt.Fprintln(sess, l)
		}
		_ = sess.Exit(0)
	case modeUnknown:
		fmt.Fprintf(sess.Stderr(), "warroom: unknown command %q; commands: tail (stream the timeline), whoami, quiet (the dashboard without notifications), note TEXT, ack ALERT, launch (the launch board), signoff [CRITERION] [NOTE], import [CRITERION] < RESULT.json (a k6 or vegeta result). Without a command, use a terminal: ssh -t …\n", strings.Join(cmd, " "))
		_ = sess.Exit(2)
	case modeNoPTY:
		fmt.Fprintln(sess.Stderr(), "warroom: the dashboard needs a terminal; connect with `ssh -t …`, or run `ssh … tail` to stream the timeline.")
		_ = sess.Exit(1)
	default:
		info := &sessInfo{person: p, pty: pty, winch: winch, quiet: mode == modeQuiet}
		info.touch()
		if s.o.IdleTimeout > 0 {
			go s.watchIdle(sess, info)
		}
		s.dashboard(sess, info)
		if info.idled.Load() {
			log.Info("ssh idle timeout", "after", s.o.IdleTimeout.String())
			fmt.Fprintf(sess.Stderr(), "\r\nwarroom: closed after %s without input\r\n", s.o.IdleTimeout)
		}
		_ = sess.Exit(0)
	}
}

// sessionMode is what an SSH session does, from its command.
type sessionMode string

const (
	modeDashboard sessionMode = "dashboard"
	modeQuiet     sessionMode = "quiet" // the dashboard without bell or desktop notifications
	modeTail      sessionMode = "tail"
	modeWhoami    sessionMode = "whoami"
	modeLaunch    sessionMode = "launch"
	modeCommand   sessionMode = "command" // note, ack, signoff or import: answered like the dashboard's
	modeUnknown   sessionMode = "unknown command"
	modeNoPTY     sessionMode = "no pty"
)

// sessionOf reads a session's mode from its command and whether it has a
// terminal.
func sessionOf(cmd []string, hasPTY bool) sessionMode {
	switch {
	case len(cmd) == 1 && cmd[0] == "tail":
		return modeTail
	case len(cmd) == 1 && cmd[0] == "whoami":
		return modeWhoami
	case len(cmd) == 1 && cmd[0] == "quiet" && hasPTY:
		return modeQuiet
	case len(cmd) >= 2 && cmd[0] == "note", len(cmd) == 2 && cmd[0] == "ack",
		len(cmd) >= 1 && cmd[0] == "signoff", len(cmd) == 1 && cmd[0] == "import", len(cmd) == 2 && cmd[0] == "import":
		return modeCommand
	case len(cmd) == 1 && cmd[0] == "launch":
		return modeLaunch
	case len(cmd) > 0:
		return modeUnknown
	case !hasPTY:
		return modeNoPTY
	}
	return modeDashboard
}

// perPerson adds delta to handle's open sessions and returns the count.
func (s *Server) perPerson(handle string, delta int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byPerson[handle] += delta
	n := s.byPerson[handle]
	if n <= 0 {
		delete(s.byPerson, handle)
	}
	return n
}

// epoch is the origin of the sessions' monotonic input times: a step of
// the wall clock neither closes every dashboard nor keeps an idle one.
var epoch = time.Now()

func (i *sessInfo) touch()              { i.lastInput.Store(int64(time.Since(epoch))) }
func (i *sessInfo) idle() time.Duration { return time.Since(epoch) - time.Duration(i.lastInput.Load()) }

// watchIdle closes a dashboard session with no input for IdleTimeout.
func (s *Server) watchIdle(sess ssh.Session, info *sessInfo) {
	every := min(s.o.IdleTimeout/4, 5*time.Second)
	every = max(every, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-sess.Context().Done():
			return
		case <-t.C:
			if info.idle() >= s.o.IdleTimeout {
				if p := info.prog.Load(); p != nil {
					info.idled.Store(true)
					p.Quit()
					return
				}
			}
		}
	}
}

// program builds the person's dashboard for a PTY session.
func (s *Server) program(sess ssh.Session, info *sessInfo) *tea.Program {
	pty := info.pty
	envs := append(sess.Environ(), "TERM="+pty.Term)
	w, h := clampWindow(pty.Window.Width, pty.Window.Height)
	o := tui.Options{
		Engine: s.r.Engine, Handle: info.person.Handle,
		Width: w, Height: h,
		Profile: colorprofile.Env(envs), Context: sess.Context(),
		Playbooks: s.r.Playbooks(), FPS: s.o.FPS, Via: incident.ViaSSH, Launch: sshLaunchHooks(s.r.LaunchHooks()),
		Quiet: info.quiet, Term: pty.Term,
	}
	if s.o.MirrorLag != nil {
		lag := s.o.MirrorLag
		o.MirrorStatus = func() string { return "lag " + lag().Round(time.Second).String() }
	}
	// Each says "" while this process stands by (the leader polls and
	// delivers) and is then not shown.
	o.SourceBudgets = s.r.SourceBudgets
	o.PublisherStatus = s.r.PublisherStatus
	o.PagingStatus = s.r.PagingStatus
	if u := s.o.StatusURL; u != "" {
		o.StatusPageURL = u
	} else if a := s.StatusAddr(); a != "" {
		o.StatusPageURL = "http://" + a + "/"
	}
	// The program ends by Quit (the middleware quits it when the session
	// ends), not by a cancelled context, so a normal disconnect is not
	// logged as a crash; the feed still follows the session's context.
	po := o
	po.Context = nil
	// The server emulates the pty (no PtyHandler): input and output are
	// the session itself, as wish's MakeOptions has them.
	opts := append(tui.ProgramOptions(po), tea.WithInput(sess), tea.WithOutput(sess), tea.WithEnvironment(envs),
		tea.WithColorProfile(o.Profile), tea.WithWindowSize(w, h), tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
			switch msg := msg.(type) {
			case tea.SuspendMsg:
				return tea.ResumeMsg{}
			case tea.KeyPressMsg, tea.MouseMsg, tea.PasteMsg:
				info.touch()
			case tea.WindowSizeMsg:
				msg.Width, msg.Height = clampWindow(msg.Width, msg.Height)
				return msg
			}
			return msg
		}))
	p := tea.NewProgram(tui.New(o), opts...)
	info.prog.Store(p)
	return p
}

// A session's terminal is at most maxCols×maxRows as far as the dashboard
// is concerned, whatever its pty-req or window-change says: render
// buffers grow with the window, and one session asking for 20000×20000
// would otherwise take the memory of the whole room. 300×100 is wider
// than the widest overview grid needs (a dashboard drawn in a larger
// terminal keeps to its top-left corner) and costs ~5 MiB per session;
// 500×200 cost ~12 MiB.
const (
	maxCols = 300
	maxRows = 100
)

func clampWindow(w, h int) (int, int) {
	return min(max(w, 1), maxCols), min(max(h, 1), maxRows)
}

// startEvery paces dashboard starts: 20 arriving at once are all drawn
// within about a second, never all at the same time (each first frame
// costs tens of milliseconds of CPU at the largest size).
const startEvery = 50 * time.Millisecond

// starts hands out start times startEvery apart.
var starts pacer

type pacer struct {
	mu   sync.Mutex
	next time.Time
}

// wait blocks until the caller's turn; false if ctx ended first.
func (p *pacer) wait(ctx context.Context) bool {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(startEvery)
	p.mu.Unlock()
	select {
	case <-time.After(time.Until(at)):
		return true
	case <-ctx.Done():
		return false
	}
}

// resizeEvery bounds how often a session's dashboard is laid out again
// for a new size: a client sending window-changes in a loop gets the
// latest applied, at most this often, not a layout for each.
const resizeEvery = 200 * time.Millisecond

// dashboard runs the person's dashboard until the session's channel or
// connection closes (or the program quits: idle timeout, q). It takes the
// place of wish's bubbletea middleware, which watches only the
// connection: a client closing one channel of a connection left its
// program running, fed zero-sized windows in a busy loop.
func (s *Server) dashboard(sess ssh.Session, info *sessInfo) {
	p := s.program(sess, info)
	winch := info.winch
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	go func() {
		var latest *tea.WindowSizeMsg
		var tick <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				// The client left: no last frame to draw for no one.
				p.Kill()
				return
			case w, open := <-winch:
				if !open {
					p.Kill() // the client closed the session
					return
				}
				cw, ch := clampWindow(w.Width, w.Height)
				latest = &tea.WindowSizeMsg{Width: cw, Height: ch}
				if tick == nil {
					tick = time.After(resizeEvery)
				}
			case <-tick:
				tick = nil
				if latest != nil {
					p.Send(*latest)
					latest = nil
				}
			}
		}
	}()
	// Dashboards start at most one per startEvery: the first frame is the
	// costly one, and twenty arriving together must leave a core to the
	// engine and to /healthz.
	if !starts.wait(ctx) {
		return
	}
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		s.o.Logger.Warn("ssh dashboard", "handle", info.person.Handle, "err", err)
	}
	p.Kill() // restores the terminal if the program crashed
}

// sshLaunchHooks are the room's without reading files: a path typed in
// an SSH session would be read on this machine, as this process. The
// result comes on standard input instead (ssh HOST import < FILE).
func sshLaunchHooks(h tui.LaunchHooks) tui.LaunchHooks {
	h.ReadLoadTest = nil
	return h
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// command carries out one command given on the ssh command line ("ssh
// HOST note the pool is raised", "ssh HOST ack A12", "ssh HOST signoff
// nat-sign-off", "ssh HOST import load-test < k6.json") as the key's person,
// and prints its committed events as tail does. Exit status: 0 done, 1
// refused (the reason on stderr), 3 not recorded.
func (s *Server) command(sess ssh.Session, by string, cmd []string) int {
	var c incident.Command
	switch cmd[0] {
	case "note":
		c = incident.Note{By: by, Text: strings.Join(cmd[1:], " ")}
	case "ack":
		c = incident.Ack{By: by, AlertID: cmd[1]}
	case "signoff":
		c = incident.PlanOf(s.r.Engine.Config()).SignOffFrom(by, strings.Join(cmd[1:], " "))
	case "import":
		// The result comes on standard input: a CI job elsewhere runs
		// ssh HOST import load-test < summary.json with its own key.
		res, err := launch.ReadResultFrom(sess, "stdin")
		if err != nil {
			fmt.Fprintf(sess.Stderr(), "warroom: %s\n", textsafe.Line(err.Error()))
			return 1
		}
		sc := incident.SubmitEvidence{By: by, Tool: res.Tool, File: res.File, Metrics: res.Metrics}
		if len(cmd) == 2 {
			sc.Criterion = cmd[1]
		}
		c = sc
	}
	rep := s.r.Engine.Do(sess.Context(), c)
	var ref *roles.Refusal
	switch {
	case errors.As(rep.Err, &ref):
		fmt.Fprintf(sess.Stderr(), "warroom: refused: %s\n", textsafe.Line(ref.Reason))
		return 1
	case rep.Err != nil:
		fmt.Fprintf(sess.Stderr(), "warroom: not done: %s\n", textsafe.Line(rep.Err.Error()))
		return 3
	}
	for _, ev := range rep.Events {
		fmt.Fprintln(sess, ev.Line())
	}
	return 0
}
