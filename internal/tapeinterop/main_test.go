package tapeinterop

import (
	"testing"

	"ferry/internal/testsupport/leakcheck"
	"ferry/internal/testsupport/ndmjobtest"
)

// TestMain removes ndmjob's build products and checks that no goroutine
// (target, initiator, NDMP session) outlives the tests.
func TestMain(m *testing.M) { leakcheck.Main(m, ndmjobtest.Cleanup) }
