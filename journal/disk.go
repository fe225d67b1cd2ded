package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// disk watches the file system a writable journal lives on. Events must
// keep committing when it fills: samples are shed first, once free space
// falls under lowWater, and a reserve file made at open is released when
// a commit still finds the disk full.
type disk struct {
	dir         string
	reservePath string

	mu        sync.Mutex
	total     uint64 // bytes of the file system
	free      uint64 // bytes available to us, at statAt
	statAt    time.Time
	lowWater  uint64
	reserve   int64 // size of the reserve file when present
	reserved  bool
	failErr   error // the last write's failure, until a write succeeds
	failures  int64
	dropped   int64
	state     StorageState
	reason    string
	since     time.Time
	stopped   bool
	statEvery time.Duration
}

// Bounds of the low-water mark and the reserve, as fractions of the file
// system: a 4 MiB tmpfs keeps 409 KiB for events and a 256 KiB reserve.
const (
	minLowWater = 256 << 10
	maxLowWater = 64 << 20
	minReserve  = 128 << 10
	maxReserve  = 16 << 20
)

func newDisk(path string) (*disk, error) {
	d := &disk{dir: filepath.Dir(path), reservePath: path + ".reserve", state: StorageOK, since: time.Now(), statEvery: 250 * time.Millisecond}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.statLocked(true); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	d.lowWater = clampU(d.total/10, minLowWater, maxLowWater)
	d.reserve = int64(clampU(d.total/16, minReserve, maxReserve))
	return d, nil
}

func clampU(v, lo, hi uint64) uint64 { return min(max(v, lo), hi) }

// start makes the reserve once the journal is open.
func (d *disk) start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.makeReserveLocked()
}

func (d *disk) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.reserved {
		_ = os.Remove(d.reservePath)
		d.reserved = false
	}
}

func (d *disk) statLocked(force bool) error {
	now := time.Now()
	if !force && now.Sub(d.statAt) < d.statEvery {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		return err
	}
	d.total = st.Blocks * uint64(st.Bsize)
	d.free = st.Bavail * uint64(st.Bsize)
	d.statAt = now
	return nil
}

// makeReserveLocked (re)creates the reserve file when there is room for
// it above the low-water mark.
func (d *disk) makeReserveLocked() {
	if d.reserved || d.stopped || d.free < d.lowWater+2*uint64(d.reserve) {
		return
	}
	f, err := os.OpenFile(d.reservePath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	err = syscall.Fallocate(int(f.Fd()), 0, 0, d.reserve)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		_, err = f.Write(make([]byte, d.reserve))
		if err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(d.reservePath)
		return
	}
	d.reserved = true
	_ = d.statLocked(true)
}

// releaseReserve deletes the reserve file so that a commit can use its
// space; it reports whether there was one.
func (d *disk) releaseReserve() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.reserved {
		return false
	}
	if err := os.Remove(d.reservePath); err != nil {
		return false
	}
	d.reserved = false
	_ = d.statLocked(true)
	return true
}

// low reports whether samples must be shed to keep room for events.
func (d *disk) low() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.statLocked(false)
	return d.free < d.lowWater
}

func (d *disk) shed(n int) {
	d.mu.Lock()
	d.dropped += int64(n)
	d.mu.Unlock()
}

func (d *disk) failed(err error) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failErr = err
	d.failures++
	_ = d.statLocked(true)
	d.updateLocked()
}

func (d *disk) wrote() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failErr != nil {
		d.failErr = nil
		_ = d.statLocked(true)
		d.updateLocked()
	}
}

// updateLocked works out the state from the last failure and free space.
func (d *disk) updateLocked() {
	if d.failErr != nil && errors.Is(d.failErr, ErrDiskFull) && d.free >= d.lowWater {
		// Space came back: the next write will tell.
		d.failErr = nil
	}
	state, reason := StorageOK, ""
	switch {
	case d.failErr != nil:
		state = StorageFailing
		reason = "journal writes are failing: " + d.failErr.Error()
		if errors.Is(d.failErr, ErrDiskFull) {
			reason = fmt.Sprintf("the journal's disk is full (%s free in %s): commands that write are refused, samples are not recorded", size(d.free), d.dir)
		}
	case d.free < d.lowWater:
		state = StorageLow
		reason = fmt.Sprintf("the journal's disk is nearly full (%s free in %s, under %s): samples are not recorded so that events still commit", size(d.free), d.dir, size(d.lowWater))
	}
	if state != d.state {
		d.since = time.Now()
	}
	d.state, d.reason = state, reason
	if state == StorageOK {
		d.makeReserveLocked()
	}
}

func (d *disk) health() Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.statLocked(false)
	d.updateLocked()
	return Health{State: d.state, Reason: d.reason, Since: d.since, Free: d.free, SamplesDropped: d.dropped, FailedWrites: d.failures}
}

// explain turns a failure to open into one that says what to do when the
// disk is full (SQLite's own words would be "disk I/O error (4874)").
func (d *disk) explain(err error) error {
	if err == nil || d == nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.statLocked(true)
	if errors.Is(err, ErrDiskFull) || d.free < minReserve {
		return fmt.Errorf("%w: %s has %s free; free some space and start again (%v)", ErrDiskFull, d.dir, size(d.free), err)
	}
	return err
}

// size prints a byte count for people.
func size(b uint64) string {
	switch {
	case b >= 10<<30:
		return fmt.Sprintf("%d GiB", b>>30)
	case b >= 10<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 10<<10:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d bytes", b)
}
