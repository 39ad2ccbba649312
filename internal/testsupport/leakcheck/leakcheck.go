// Package leakcheck is the TestMain of packages whose tests start servers
// and sessions: after the tests it runs the package's cleanups (stopping a
// database, removing build products) and fails the run if any goroutine
// outlives them.
package leakcheck

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests, then each cleanup, then the leak check (only when
// the tests passed: a failed test may leave goroutines behind on purpose).
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
