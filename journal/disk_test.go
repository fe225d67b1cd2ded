package journal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallDisk mounts a tmpfs of size (root only; skipped otherwise, failed
// under WARROOM_REQUIRE_REAL).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("WARROOM_REQUIRE_REAL") != "" {
			t.Fatalf("mount a tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for n := 64 << 10; n > 0; n /= 2 {
		buf := make([]byte, n)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

// TestStartOnAFullDiskSaysSo: opening a journal, new or existing, on a
// full disk fails with ErrDiskFull and a message that says what to do,
// not SQLite's "disk I/O error (4874)".
func TestStartOnAFullDiskSaysSo(t *testing.T) {
	dir := smallDisk(t, "1m")
	existing := filepath.Join(dir, "old.db")
	j, err := Open(existing)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, []Event{ev("NOTE", "before the disk filled")}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	fillDisk(t, filepath.Join(dir, "filler"))
	for _, p := range []string{existing, filepath.Join(dir, "new.db")} {
		_, err := Open(p)
		if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "free some space and start again") {
			t.Fatalf("open %s on a full disk: %v", filepath.Base(p), err)
		}
		t.Logf("%s: %v", filepath.Base(p), err)
	}
	// Exports still read it.
	r, err := OpenReadOnly(existing)
	if err != nil {
		t.Fatalf("read-only on a full disk: %v", err)
	}
	r.Close()
}

// TestSamplesShedAndRetention: under the low-water mark samples are shed
// and counted while events commit; samples older than FullResolution
// become one-minute means, read back with the recent ones.
func TestSamplesShedAndRetention(t *testing.T) { eachBackend(t, testSamplesShedAndRetention) }

func testSamplesShedAndRetention(t *testing.T, b backend) {
	j := b.open(t)
	t0 := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	var old []Sample
	for i := range 600 { // 10 minutes, one a second, two days ago
		old = append(old, Sample{Service: "api", Pane: "p95", Time: t0.Add(time.Duration(i) * time.Second), Value: float64(i % 60)})
	}
	old[30].NoData = true
	if err := j.AppendSamples(ctx, old); err != nil {
		t.Fatal(err)
	}
	// Newer samples move the retention point; each batch compacts a
	// bounded span, so a few batches fold all ten minutes.
	now := t0.Add(48 * time.Hour)
	for i := range 10 {
		if err := j.AppendSamples(ctx, []Sample{{Service: "api", Pane: "p95", Time: now.Add(time.Duration(i) * time.Second), Value: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []Sample
	if err := j.Samples(ctx, "api", "p95", time.Time{}, time.Time{}, func(s Sample) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 10+10 {
		t.Fatalf("%d samples after compaction, want 10 minute means and 10 recent", len(got))
	}
	// Minute 0 held 0..59 with one NO DATA: the mean of the 59 values.
	if m := got[0]; !m.Time.Equal(t0) || m.NoData || m.Value < 29 || m.Value > 30 {
		t.Fatalf("first minute mean %+v", m)
	}
	if raw := countRows(t, j, "samples"); raw != 10 {
		t.Fatalf("%d full-resolution rows left", raw)
	}
	sq, ok := j.(*SQLite)
	if !ok {
		return // the database server's disk is the server's to watch
	}

	// Low water: samples are shed and counted, events still commit.
	sq.disk.mu.Lock()
	sq.disk.lowWater = 1 << 62
	sq.disk.mu.Unlock()
	if err := j.AppendSamples(ctx, old[:5]); !errors.Is(err, ErrSamplesShed) {
		t.Fatalf("samples on a low disk: %v", err)
	}
	if err := j.Append(ctx, []Event{ev("NOTE", "still recorded")}); err != nil {
		t.Fatal(err)
	}
	h := j.Health()
	if h.State != StorageLow || h.SamplesDropped != 5 || !strings.Contains(h.Reason, "samples are not recorded") {
		t.Fatalf("health %+v", h)
	}
}
