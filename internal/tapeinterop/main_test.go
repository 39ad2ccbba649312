package tapeinterop

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"ferry/internal/testsupport/ndmjobtest"
)

// TestMain removes ndmjob's build products and checks that no goroutine
// (target, initiator, NDMP session) outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	ndmjobtest.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
