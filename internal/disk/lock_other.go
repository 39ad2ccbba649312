//go:build !unix

package disk

import "os"

// lockDir does nothing where flock is missing; creators of one name
// still exclude each other through the sidecar's hard link.
func lockDir(string) (func(), error) { return func() {}, nil }

// tryLock always succeeds where flock is missing: one process per disk
// is then the user's to keep.
func tryLock(*os.File) (bool, error) { return true, nil }
