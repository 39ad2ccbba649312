// Package store keeps virtual tape cartridges: a Store creates, lists,
// opens and removes them by barcode, and an open Cartridge is the byte
// space the tape format (package tape) reads and writes. The contract
// below is what the format relies on; docs/cartridge-store.md states it
// with the mapping of each call to files, memory and S3, and package
// storetest checks it on any implementation.
package store

import (
	"errors"
	"io"
)

// HeadLen is the length of a cartridge's head: the bytes at the start that
// the format rewrites in place (its metadata and end-of-data slots). A
// backing whose objects cannot be rewritten in part may keep them apart.
const HeadLen = 4096

var (
	// ErrInUse: another open, in this process or another, holds the
	// cartridge's writer lease.
	ErrInUse = errors.New("store: cartridge open for writing elsewhere")
	// ErrReadOnly: a write or truncate on a cartridge opened read-only.
	ErrReadOnly = errors.New("store: cartridge opened read-only")
	// ErrClosed: a call on a closed cartridge.
	ErrClosed = errors.New("store: cartridge closed")
	// ErrBadBarcode: the barcode cannot name a cartridge (see ValidBarcode).
	ErrBadBarcode = errors.New("store: barcode cannot name a cartridge")
)

// Store holds cartridges by barcode. It is safe for concurrent use, and
// several Stores (several processes) may share one place: the writer lease
// is what keeps them apart. A missing cartridge is an error for which
// errors.Is(err, fs.ErrNotExist) holds.
type Store interface {
	// Create makes a cartridge whose bytes are head (at most HeadLen), and
	// nothing else; fs.ErrExist if it exists. On return it is durable.
	Create(barcode string, head []byte) error
	// Open opens a cartridge. A writable open takes the writer lease
	// (ErrInUse while another open holds it) and keeps it until Close; a
	// read-only open takes nothing and may be made beside a writer.
	Open(barcode string, writable bool) (Cartridge, error)
	// List returns the barcodes of the cartridges in the store, sorted.
	List() ([]string, error)
	// Remove deletes a cartridge; ErrInUse while a writer holds it.
	Remove(barcode string) error
}

// Cartridge is the byte space of one open cartridge, read and written at
// offsets like a file. Bytes never written (holes) read as zeros; reading
// at or past Size returns io.EOF (with the bytes before it). One goroutine
// uses a Cartridge at a time; distinct opens of one cartridge may be used
// concurrently.
//
// Durability: WriteAt and Truncate take effect for this open at once;
// other opens see them after Sync at the latest (a backing may show them
// sooner: files do). Sync makes every WriteAt and Truncate before it
// durable (it survives a crash of the machine) and visible to every later
// open. Close releases the lease after making what was written visible to
// later opens, but durable only if the backing says so: call Sync first.
// Data written after the last Sync may be lost by a crash, in any part:
// a backing may lose some writes and keep later ones.
type Cartridge interface {
	io.ReaderAt
	// WriteAt writes p at off, growing the cartridge if it ends past
	// Size; ErrReadOnly on a read-only open.
	io.WriterAt
	// Size returns the cartridge's length: one past the last byte
	// written, or the length set by Truncate. For a read-only open it is
	// read afresh at every call.
	Size() (int64, error)
	// Truncate sets the length. Bytes past it are gone: extending it
	// again (by Truncate or WriteAt) reads zeros there, never old data.
	Truncate(size int64) error
	// Sync makes everything written so far durable and visible.
	Sync() error
	// Close releases the cartridge (and its lease); later calls fail
	// with ErrClosed.
	Close() error
	// Name names the cartridge in errors: a path, or a URL.
	Name() string
}

// ValidBarcode reports whether s can name a cartridge in every store (a
// file name, an S3 key): 1 to 32 letters, digits, '-', '_' and '.', not
// starting with '.'.
func ValidBarcode(s string) bool {
	if s == "" || s[0] == '.' || len(s) > 32 {
		return false
	}
	for _, r := range s {
		ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}
