// Package airdrop embeds the example war room so that `warroom demo` works
// from any directory with no files beside the binary.
package airdrop

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed warroom.yaml playbooks/*.yaml
var files embed.FS

// WriteTo copies the example (warroom.yaml and playbooks/) into dir and
// returns the path of its war-room file.
func WriteTo(dir string) (string, error) {
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "warroom.yaml"), nil
}
