// Package library is ferry's virtual tape library in a state directory
// (STATE/library): drives, slots and import/export slots of one media
// changer (internal/changer), cartridges in files (internal/tape), and
// the locks that let several ferry processes share them. docs/library.md
// describes the directory and the rules.
//
// A *Library is safe for concurrent use. Every changer operation takes a
// file lock and reads the state from disk, so a change made by another
// process (or another *Library on the same directory) is seen at once;
// every change is written back atomically before the lock is released.
// An open drive holds an exclusive lock of its own, so a drive has one
// user at a time across sessions and processes.
package library
