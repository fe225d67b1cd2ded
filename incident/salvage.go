package incident

import (
	"context"
	"fmt"
	"time"

	"github.com/warroom/warroom/journal"
)

// VerifyJournal checks the journal at path (see journal.Verify) and that
// every event decodes and none is stamped before the one it follows.
func VerifyJournal(ctx context.Context, path string) (journal.VerifyReport, error) {
	var prev time.Time
	var prevSeq int64
	return journal.Verify(ctx, path, func(je journal.Event) error {
		defer func() { prev, prevSeq = je.Time, je.Seq }()
		if _, err := FromJournal(je); err != nil {
			return err
		}
		if je.Time.Before(prev) {
			return fmt.Errorf("stamped %s before #%d", Age(prev.Sub(je.Time)), prevSeq)
		}
		return nil
	})
}

// SalvageJournal copies what is readable of the journal at src into a new
// journal at dst (see journal.Salvage). An event that cannot be read or
// decoded becomes a NOTE by warroom saying which event was lost and why,
// so the copy replays and exports like any journal.
func SalvageJournal(ctx context.Context, src, dst string) (journal.SalvageReport, error) {
	check := func(je journal.Event) error {
		_, err := FromJournal(je)
		return err
	}
	replace := func(seq int64, at time.Time, why string) journal.Event {
		ev := Event{Seq: seq, Time: at, Kind: KindNote, Actor: "warroom",
			Text: fmt.Sprintf("event #%d could not be recovered from the damaged journal: %s", seq, why)}
		return ev.ToJournal()
	}
	return journal.Salvage(ctx, src, dst, check, replace)
}
