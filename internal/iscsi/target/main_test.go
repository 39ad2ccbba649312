package target

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the target leaves no goroutine behind: Shutdown
// waits for every connection, worker and session.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
