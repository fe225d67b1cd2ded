package config

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrNoFile is returned by Find when no war-room file is named or found.
var ErrNoFile = errors.New("no war-room file: give -c FILE, set WARROOM_CONFIG, or create ./warroom.yaml (or $XDG_CONFIG_HOME/warroom/warroom.yaml); warroom init writes a starter file")

// Find picks the war-room file: flag (-c) if given, else $WARROOM_CONFIG,
// else ./warroom.yaml, else $XDG_CONFIG_HOME/warroom/warroom.yaml
// (~/.config when XDG_CONFIG_HOME is unset). why says which rule chose
// it, for the person to read.
func Find(flag string) (path, why string, err error) {
	if flag != "" {
		return flag, "given with -c", nil
	}
	if p := os.Getenv("WARROOM_CONFIG"); p != "" {
		return p, "from $WARROOM_CONFIG", nil
	}
	if isFile("warroom.yaml") {
		return "warroom.yaml", "found in the current directory", nil
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".config")
		}
	}
	if dir != "" {
		if p := filepath.Join(dir, "warroom", "warroom.yaml"); isFile(p) {
			return p, "found in the XDG config directory", nil
		}
	}
	return "", "", ErrNoFile
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
