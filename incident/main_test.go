package incident

import (
	"os"
	"testing"

	"github.com/warroom/warroom/journal/journaltest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	journaltest.StopPostgres()
	os.Exit(code)
}
