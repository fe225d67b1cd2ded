package journal

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warroom/warroom/journal/journaltest"
)

// TestPresenceRows: each process of a room replaces what it says is
// connected to it; a reader gets every process's rows of its own room
// only, and not those of a process that stopped saying anything (by the
// database's clock). A database of schema 1 gets the table when a writer
// opens it; a read-only journal says nothing.
func TestPresenceRows(t *testing.T) {
	pg := journaltest.SharedPostgres(t)
	base := journaltest.PostgresURL(t)
	// Schema 1 had no presence table.
	j0 := openPG(t, base, PostgresOptions{Node: "old"})
	j0.Close()
	db := journaltest.DBName(base)
	if err := pg.Exec(db, `DROP TABLE warroom.presence; UPDATE warroom.meta SET value = '1' WHERE key = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	u := roomURL(t, base, "airdrop")
	a := openPG(t, u, PostgresOptions{Node: "a"})
	b := openPG(t, u, PostgresOptions{Node: "b"})
	other := openPG(t, roomURL(t, base, "nft"), PostgresOptions{Node: "a"})
	since := time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC)
	until := since.Add(15 * time.Minute)
	if err := a.PutPresence(ctx, []PresenceRow{{Key: "s1", Handle: "maya", Via: "local", Since: since}, {Key: "slack:ola", Handle: "ola", Via: "slack", Since: since, Until: until}}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutPresence(ctx, []PresenceRow{{Key: "s1", Handle: "obs", Via: "ssh", Since: since}}); err != nil {
		t.Fatal(err)
	}
	if err := other.PutPresence(ctx, []PresenceRow{{Key: "s9", Handle: "zed", Via: "ssh", Since: since}}); err != nil {
		t.Fatal(err)
	}
	show := func(rows []PresenceRow) string {
		s := ""
		for _, r := range rows {
			s += fmt.Sprintf("%s/%s=%s:%s:%s:%v ", r.Node, r.Key, r.Handle, r.Via, r.Since.Format("15:04"), r.Until.IsZero())
		}
		return s
	}
	got, err := b.Presence(ctx, time.Minute)
	if want := "a/s1=maya:local:18:00:true a/slack:ola=ola:slack:18:00:false b/s1=obs:ssh:18:00:true "; err != nil || show(got) != want {
		t.Fatalf("presence: %q %v, want %q", show(got), err, want)
	}
	if !got[1].Until.Equal(until) {
		t.Fatalf("until: %v", got[1].Until)
	}
	// A process's new word replaces its old one.
	if err := a.PutPresence(ctx, []PresenceRow{{Key: "s2", Handle: "ola", Via: "ssh", Since: since}}); err != nil {
		t.Fatal(err)
	}
	got, _ = b.Presence(ctx, time.Minute)
	if want := "a/s2=ola:ssh:18:00:true b/s1=obs:ssh:18:00:true "; show(got) != want {
		t.Fatalf("after a replaced its rows: %q", show(got))
	}
	// b said so a minute ago: it is not counted any more.
	if err := pg.Exec(db, `UPDATE warroom.presence SET seen = now() - interval '61 seconds' WHERE node = 'b'`); err != nil {
		t.Fatal(err)
	}
	got, _ = a.Presence(ctx, time.Minute)
	if want := "a/s2=ola:ssh:18:00:true "; show(got) != want {
		t.Fatalf("with b silent: %q", show(got))
	}
	lead(t, a) // the room exists once a process has led it
	r, err := OpenPostgres(ctx, u, PostgresOptions{Node: "r"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.PutPresence(ctx, nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a read-only journal's presence: %v", err)
	}
}
