// Package journaltest helps tests of journal readers.
package journaltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ReadOnlyCopy copies the journal at src into a directory where nothing
// can be created (a read-only bind mount when running as root, else a
// directory without write permission) and returns the copy's path.
func ReadOnlyCopy(t testing.TB, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return filepath.Join(dir, filepath.Base(src))
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "--bind", "-o", "ro", dir, mnt).CombinedOutput(); err != nil {
		t.Skipf("root, and cannot make a read-only bind mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	if err := os.WriteFile(filepath.Join(mnt, "probe"), nil, 0o644); err == nil {
		t.Skip("the bind mount is writable")
	}
	return filepath.Join(mnt, filepath.Base(src))
}
