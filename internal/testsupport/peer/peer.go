// Package peer finds the programs tests run beside ferry (GNU tar, bsdtar,
// Amanda's ndmjob, ...): a missing one skips its test, except under
// CI=true, where scripts/test.sh has installed every peer and a missing
// one is a failure.
package peer

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of program (a name looked up in PATH, or a
// path), which the Debian package pkg installs.
func Require(t testing.TB, program, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (Debian package %s): scripts/test.sh installs it", program, pkg)
	}
	t.Skipf("%s not installed (Debian package %s)", program, pkg)
	return ""
}
