package fakes

import (
	"time"

	"github.com/warroom/warroom/sources"
)

// Settled reports whether every query of s is waiting for a time after
// now: no request in flight and none due. Tests on a fake clock use it to
// know the scheduler has caught up after Advance.
func Settled(s *sources.Scheduler, now time.Time) bool {
	for _, q := range s.Queries() {
		if q.Polling || q.Next.IsZero() || !q.Next.After(now) {
			return false
		}
	}
	return true
}
