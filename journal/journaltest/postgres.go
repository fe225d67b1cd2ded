package journaltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresBin is where Debian's postgresql package installs its server
// binaries (the newest version installed; 15 on bookworm). $WARROOM_PG_BIN
// overrides it.
var PostgresBin = func() string {
	if d := os.Getenv("WARROOM_PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestV := "/usr/lib/postgresql/15/bin", 0
	for _, d := range dirs {
		if v, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil && v > bestV {
			best, bestV = d, v
		}
	}
	return best
}()

// Postgres is a throwaway PostgreSQL cluster: Debian's server, started on
// a free loopback port in a temporary directory as an unprivileged user
// (initdb refuses root: as root it runs as the postgres system user).
// One cluster serves a whole test binary; each test gets a database of
// its own.
type Postgres struct {
	Dir  string
	Port int
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	mu   sync.Mutex
	n    int
}

var (
	shared    *Postgres
	sharedErr error
	sharedMu  sync.Mutex
)

// RequireReal reports whether missing real components fail tests instead
// of skipping them (CI sets WARROOM_REQUIRE_REAL=1).
func RequireReal() bool { return os.Getenv("WARROOM_REQUIRE_REAL") != "" }

// PostgresURL starts (once per test binary) the shared cluster and
// returns the URL of a new, empty database for this test. Without the
// server binaries the test is skipped, or failed under
// WARROOM_REQUIRE_REAL. Call StopPostgres from TestMain.
func PostgresURL(t testing.TB) string {
	t.Helper()
	pg := SharedPostgres(t)
	url, err := pg.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// SharedPostgres starts the test binary's cluster once and returns it.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = StartPostgres()
	}
	if sharedErr != nil {
		if errors.Is(sharedErr, errNoPostgres) && !RequireReal() {
			t.Skipf("PostgreSQL is not installed (%v): apt-get install postgresql", sharedErr)
		}
		t.Fatalf("start PostgreSQL: %v", sharedErr)
	}
	return shared
}

// StopPostgres stops the shared cluster if one was started. TestMain
// calls it after m.Run.
func StopPostgres() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

var errNoPostgres = errors.New("no PostgreSQL server binaries")

// StartPostgres initialises and starts a cluster of its own.
func StartPostgres() (*Postgres, error) {
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(PostgresBin, b)); err != nil {
			return nil, fmt.Errorf("%w: %s", errNoPostgres, filepath.Join(PostgresBin, b))
		}
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "warroom-pg-")
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Dir: dir, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			pg.Stop()
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(PostgresBin, "initdb"), "-D", data, "-U", "warroom", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	pg.log, err = os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if pg.Port, err = freePort(); err != nil {
			return nil, err
		}
		pg.cmd = exec.Command(filepath.Join(PostgresBin, "postgres"), "-D", data,
			"-p", strconv.Itoa(pg.Port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "max_connections=300",
			"-c", "fsync=on", "-c", "synchronous_commit=on",
			"-c", "shared_buffers=64MB",
			"-c", "log_min_messages=warning",
		)
		pg.cmd.Stdout, pg.cmd.Stderr = pg.log, pg.log
		pg.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := pg.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
		pg.done = make(chan struct{})
		go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(pg.cmd, pg.done)
		err = pg.waitReady(15 * time.Second)
		if err == nil {
			break
		}
		pg.kill()
		if attempt == 2 {
			b, _ := os.ReadFile(pg.log.Name())
			return nil, fmt.Errorf("postgres did not start: %v\n%s", err, b)
		}
	}
	ok = true
	return pg, nil
}

// unprivileged is the credential to run the server with: none when not
// root, else the postgres system user's.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root and there is no postgres user to run the server as (%v)", errNoPostgres, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (pg *Postgres) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-pg.done:
			return errors.New("the server exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the URL of database db.
func (pg *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://warroom@127.0.0.1:%d/%s?sslmode=disable", pg.Port, db)
}

// NewDatabase creates an empty database and returns its URL.
func (pg *Postgres) NewDatabase() (string, error) {
	pg.mu.Lock()
	pg.n++
	n := pg.n
	pg.mu.Unlock()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("t%d_%s", n, hex.EncodeToString(b[:]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return pg.URL(name), nil
}

// Exec runs SQL on database db as the cluster's superuser (tests use it to
// look behind the journal's back).
func (pg *Postgres) Exec(db, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// DBName is the database of a URL made by NewDatabase.
func DBName(url string) string {
	s := url[strings.LastIndex(url, "/")+1:]
	s, _, _ = strings.Cut(s, "?")
	return s
}

func (pg *Postgres) kill() {
	if pg.cmd != nil && pg.cmd.Process != nil {
		_ = syscall.Kill(-pg.cmd.Process.Pid, syscall.SIGKILL)
		<-pg.done
	}
}

// Stop shuts the server down (fast shutdown: sessions are ended) and
// removes its directory.
func (pg *Postgres) Stop() {
	if pg.cmd != nil && pg.cmd.Process != nil {
		_ = pg.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-pg.done:
		case <-time.After(10 * time.Second):
			pg.kill()
		}
	}
	if pg.log != nil {
		pg.log.Close()
	}
	if pg.Dir != "" {
		os.RemoveAll(pg.Dir)
	}
}
