package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// isJournalURL reports whether a journal location is a database URL.
func isJournalURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// journalURL parses a postgres:// URL whose password may be a ${NAME}
// reference, and returns it with the reference's name (if any). A
// literal password, in the user part or as a password parameter, is
// refused: secrets come from the environment.
func journalURL(s string) (u *url.URL, passwordEnv string, err error) {
	if err := checkEnvRefs(s); err != nil {
		return nil, "", err
	}
	// ${…} is not valid in a URL's user part: parse with placeholders.
	refs := envRef.FindAllString(s, -1)
	masked := envRef.ReplaceAllString(s, "WARROOMENVREF")
	u, err = url.Parse(masked)
	if err != nil {
		return nil, "", fmt.Errorf("not a URL: %v", errors.Unwrap(err))
	}
	if strings.Contains(u.Host, "WARROOMENVREF") || strings.Contains(u.Path, "WARROOMENVREF") || u.User != nil && strings.Contains(u.User.Username(), "WARROOMENVREF") {
		return nil, "", errors.New("only the password may be a ${NAME} reference")
	}
	for k, vs := range u.Query() {
		for _, v := range vs {
			if strings.Contains(strings.ToLower(k), "password") || strings.Contains(v, "WARROOMENVREF") {
				return nil, "", fmt.Errorf("the URL parameter %s: give the password in the user part as ${NAME}", k)
			}
		}
	}
	if p, ok := u.User.Password(); ok {
		if p != "WARROOMENVREF" || len(refs) != 1 {
			return nil, "", errors.New("secrets must be ${ENV_VAR} references, not literal values: write postgres://user:${WARROOM_DB_PASSWORD}@host/db")
		}
		passwordEnv = refs[0][2 : len(refs[0])-1]
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return nil, "", errors.New("no host: write postgres://user:${WARROOM_DB_PASSWORD}@host:5432/db?room=ID")
	}
	return u, passwordEnv, nil
}

func (v *validator) journal() {
	j := v.c.Journal
	switch {
	case j == "":
	case isJournalURL(j):
		if _, _, err := journalURL(j); err != nil {
			v.at("journal", err.Error(), "")
		}
	case strings.Contains(j, "://"):
		v.at("journal", "unknown journal URL scheme", "a file path, or postgres://user:${PASSWORD_VAR}@host:5432/db?room=ID")
	case strings.Contains(j, "${"):
		v.at("journal", "a journal file path takes no ${NAME} references", "")
	}
}

// JournalLocation is the journal the file names: a SQLite file resolved
// against the war-room file's directory, or a postgres:// URL with its
// password read from the environment (see ResolveJournal). "" when the
// file names none.
func (c *Config) JournalLocation() (string, error) {
	if c.Journal == "" {
		return "", nil
	}
	dir := ""
	if c.Path != "" {
		dir = filepath.Dir(c.Path)
	}
	loc, err := ResolveJournal(c.Journal, dir)
	if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	return loc, nil
}

// ResolveJournal turns a journal location as written (in the file, or
// given to --journal) into one to open: a relative file path is joined to
// dir (when not empty); a postgres:// URL's ${NAME} password is read from
// the environment (and remembered for Redact), and a literal password is
// refused.
func ResolveJournal(j, dir string) (string, error) {
	if !isJournalURL(j) {
		if filepath.IsAbs(j) || dir == "" {
			return j, nil
		}
		return filepath.Join(dir, j), nil
	}
	u, env, err := journalURL(j)
	if err != nil {
		return "", err
	}
	if env != "" {
		pw, err := ExpandEnv("${" + env + "}")
		if err != nil {
			return "", err
		}
		u.User = url.UserPassword(u.User.Username(), pw)
	}
	return u.String(), nil
}
