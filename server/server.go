// Package server is `warroom serve`: one room shared over SSH (a dashboard
// per session, bound to the roster person whose key authenticated) and
// HTTP (health, metrics, the Alertmanager webhook and a read-only
// timeline).
package server

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/net/netutil"

	"github.com/warroom/warroom/comms"
	"github.com/warroom/warroom/room"
)

// Defaults.
const (
	DefaultSSHAddr     = "127.0.0.1:2222"
	DefaultHTTPAddr    = "127.0.0.1:8080"
	DefaultMaxSessions = 64
	// DefaultMaxSessionsPerPerson leaves a person a few terminals and
	// the others their seats.
	DefaultMaxSessionsPerPerson = 8
	DefaultIdleTimeout          = 30 * time.Minute
	handshakeTimeout            = 30 * time.Second

	// HTTP: a request (headers and body: webhooks are small) must arrive
	// within DefaultHTTPReadTimeout, a non-stream answer must be written
	// within DefaultHTTPWriteTimeout, and a keep-alive connection idle for
	// DefaultHTTPIdleTimeout is closed. At most DefaultMaxHTTPConns
	// connections are served at once; others wait to be accepted.
	DefaultHTTPReadTimeout  = 30 * time.Second
	DefaultHTTPWriteTimeout = 30 * time.Second
	DefaultHTTPIdleTimeout  = 2 * time.Minute
	DefaultMaxHTTPConns     = 256
	httpHeaderTimeout       = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	SSHAddr  string // default DefaultSSHAddr; "-" disables SSH
	HTTPAddr string // default DefaultHTTPAddr; "-" disables HTTP
	// StatusAddr serves the public status page (comms.Page), apart from
	// the authenticated API; "" or "-": not served.
	StatusAddr string
	// StatusURL is the status page's public address, for its JSON and
	// feed links (default: each request's host).
	StatusURL string
	// HostKeyPath is the SSH host key (OpenSSH PEM). It is generated
	// (ed25519, mode 0600) when missing. Required for SSH.
	HostKeyPath string
	// MaxSessions bounds concurrent SSH sessions (default DefaultMaxSessions).
	MaxSessions int
	// MaxSessionsPerPerson bounds one person's concurrent SSH sessions
	// (default DefaultMaxSessionsPerPerson).
	MaxSessionsPerPerson int
	// IdleTimeout closes a dashboard session with no keyboard or mouse
	// input for this long (default DefaultIdleTimeout; negative: never).
	IdleTimeout time.Duration
	// Audit receives connects, refusals and disconnects. Default: Logger.
	Audit *slog.Logger
	// Logger receives operational messages. Default: discard.
	Logger *slog.Logger
	// Token guards /api/timeline, /api/timeline/stream (bearer; empty:
	// 404) and the Alertmanager webhook /api/alertmanager (bearer; empty:
	// every notification is refused, 401).
	Token string
	// MirrorLag optionally reports the Slack mirror's lag for /metrics.
	MirrorLag func() time.Duration
	// FPS overrides the dashboards' frame cap (tests).
	FPS int
	// HTTP limits (defaults DefaultHTTP…, DefaultMaxHTTPConns).
	HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout time.Duration
	MaxHTTPConns                                       int
}

// Server serves one room.
type Server struct {
	r      *room.Room
	o      Options
	ssh    *ssh.Server
	http   *http.Server
	status *http.Server
	met    *metrics

	sshLn, httpLn, statusLn net.Listener
	sessions                atomic.Int64
	mu                      sync.Mutex
	byPerson                map[string]int // open SSH sessions by handle
	wg                      sync.WaitGroup
	closeOnce               sync.Once
	closeErr                error

	base       context.Context // ends streams (SSE) on Close
	cancelBase context.CancelFunc

	onOffer func(fingerprint string) // tests: every key the server was asked about
}

// New builds a server for r. Nothing listens until Start.
func New(r *room.Room, o Options) (*Server, error) {
	if r == nil || r.Engine == nil {
		return nil, errors.New("server: no room")
	}
	if o.SSHAddr == "" {
		o.SSHAddr = DefaultSSHAddr
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = DefaultHTTPAddr
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.MaxSessionsPerPerson <= 0 {
		o.MaxSessionsPerPerson = DefaultMaxSessionsPerPerson
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.HTTPReadTimeout = cmp.Or(o.HTTPReadTimeout, DefaultHTTPReadTimeout)
	o.HTTPWriteTimeout = cmp.Or(o.HTTPWriteTimeout, DefaultHTTPWriteTimeout)
	o.HTTPIdleTimeout = cmp.Or(o.HTTPIdleTimeout, DefaultHTTPIdleTimeout)
	o.MaxHTTPConns = cmp.Or(o.MaxHTTPConns, DefaultMaxHTTPConns)
	if o.Audit == nil {
		o.Audit = o.Logger
	}
	s := &Server{r: r, o: o, byPerson: map[string]int{}}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.met = newMetrics(s)
	if o.SSHAddr != "-" {
		if o.HostKeyPath == "" {
			return nil, errors.New("server: no host key path")
		}
		signer, err := LoadOrCreateHostKey(o.HostKeyPath)
		if err != nil {
			return nil, err
		}
		s.ssh = s.newSSH(signer)
	}
	if o.HTTPAddr != "-" {
		s.http = &http.Server{Handler: s.Handler(),
			ReadHeaderTimeout: min(httpHeaderTimeout, o.HTTPReadTimeout), ReadTimeout: o.HTTPReadTimeout,
			WriteTimeout: o.HTTPWriteTimeout, IdleTimeout: o.HTTPIdleTimeout,
			BaseContext: func(net.Listener) context.Context { return s.base }}
	}
	if o.StatusAddr != "" && o.StatusAddr != "-" {
		// The public page: no token, no API, GET and HEAD only, small.
		s.status = &http.Server{ReadHeaderTimeout: min(httpHeaderTimeout, o.HTTPReadTimeout), ReadTimeout: o.HTTPReadTimeout,
			WriteTimeout: o.HTTPWriteTimeout, IdleTimeout: o.HTTPIdleTimeout, MaxHeaderBytes: 16 << 10,
			BaseContext: func(net.Listener) context.Context { return s.base }}
	}
	return s, nil
}

// Start listens and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	lc := net.ListenConfig{}
	if s.ssh != nil {
		ln, err := lc.Listen(ctx, "tcp", s.o.SSHAddr)
		if err != nil {
			return fmt.Errorf("ssh listen: %w", err)
		}
		s.sshLn = ln
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.ssh.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
				s.o.Logger.Error("ssh serve", "err", err)
			}
		}()
	}
	if s.http != nil {
		ln, err := lc.Listen(ctx, "tcp", s.o.HTTPAddr)
		if err != nil {
			s.Close()
			return fmt.Errorf("http listen: %w", err)
		}
		s.httpLn = ln
		ln = netutil.LimitListener(ln, s.o.MaxHTTPConns)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.o.Logger.Error("http serve", "err", err)
			}
		}()
	}
	if s.status != nil {
		page, err := comms.NewPage(s.base, s.r.Engine)
		if err != nil {
			s.Close()
			return fmt.Errorf("status page: %w", err)
		}
		page.URL = s.o.StatusURL
		s.status.Handler = page
		ln, err := lc.Listen(ctx, "tcp", s.o.StatusAddr)
		if err != nil {
			s.Close()
			return fmt.Errorf("status page listen: %w", err)
		}
		s.statusLn = ln
		ln = netutil.LimitListener(ln, s.o.MaxHTTPConns)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.status.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.o.Logger.Error("status page serve", "err", err)
			}
		}()
	}
	if s.o.Token == "" {
		s.o.Logger.Warn("timeline endpoints and the Alertmanager webhook disabled: WARROOM_HTTP_TOKEN is not set")
	}
	return nil
}

// SSHAddr is the SSH listener's address ("" before Start or when disabled).
func (s *Server) SSHAddr() string {
	if s.sshLn == nil {
		return ""
	}
	return s.sshLn.Addr().String()
}

// HTTPAddr is the HTTP listener's address.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// StatusAddr is the public status page's address ("" when not served).
func (s *Server) StatusAddr() string {
	if s.statusLn == nil {
		return ""
	}
	return s.statusLn.Addr().String()
}

// Close stops both servers and ends every session (the room is the
// caller's to close).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		s.cancelBase()
		for _, hs := range []*http.Server{s.http, s.status} {
			if hs == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := hs.Shutdown(ctx); err != nil {
				errs = append(errs, hs.Close())
			}
			cancel()
		}
		if s.ssh != nil {
			if err := s.ssh.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			errs = append(errs, errors.New("server: listeners did not stop in 5s"))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Run starts the server, waits for ctx or the engine to stop, and closes
// the server. It does not close the room.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.r.Done():
	}
	return s.Close()
}

// LoadOrCreateHostKey reads an OpenSSH private key from path, or creates
// an ed25519 one there (mode 0600, never overwriting).
func LoadOrCreateHostKey(path string) (gossh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		blk, merr := gossh.MarshalPrivateKey(priv, "warroom host key")
		if merr != nil {
			return nil, merr
		}
		b = pem.EncodeToMemory(blk)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return nil, fmt.Errorf("host key: %w", ferr)
		}
		if _, werr := f.Write(b); werr != nil {
			f.Close()
			return nil, werr
		}
		if cerr := f.Close(); cerr != nil {
			return nil, cerr
		}
	} else if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	} else if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("host key %s: mode %v is readable by others (want 0600)", path, fi.Mode().Perm())
	}
	signer, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return signer, nil
}
