package journal

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile opens (creating, mode 0600) the journal file itself and takes
// an exclusive flock on it, so that a second warroom process cannot become
// a second writer by whatever name it reaches the file: a symlink and a
// hard link lead to the same inode and the same lock. The kernel drops
// the lock when the process dies, so a kill -9 leaves no stale lock.
//
// flock locks are separate from the POSIX record locks SQLite takes on
// the same file (on local file systems), and the descriptor stays open
// until the database is closed, so SQLite's own locks are never released
// by closing it early.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if os.IsPermission(err) {
			return nil, fmt.Errorf("%w %s: %w", ErrUnreadable, path, err)
		}
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := lockHolder(f)
		f.Close()
		if err == syscall.EWOULDBLOCK {
			if holder > 0 {
				return nil, fmt.Errorf("journal %s: %w (pid %d)", path, ErrInUse, holder)
			}
			return nil, fmt.Errorf("journal %s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("journal %s: lock: %w", path, err)
	}
	return f, nil
}

// lockHolder finds the pid holding a flock on f's inode in /proc/locks
// (Linux), or 0.
func lockHolder(f *os.File) int {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer locks.Close()
	// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF": the pid, then
	// major:minor:inode (the inode in decimal).
	want := ":" + strconv.FormatUint(sys.Ino, 10)
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "FLOCK" || !strings.HasSuffix(f[5], want) {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil {
			return pid
		}
	}
	return 0
}
