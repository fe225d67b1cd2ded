package playbooks

import (
	"time"

	"github.com/warroom/warroom/clock"
)

var testT0 = time.Date(2024, 1, 31, 18, 0, 0, 0, time.UTC)

func newFakeClock() *clock.Fake { return clock.NewFake(testT0) }
