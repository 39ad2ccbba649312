// Package tape is ferry's virtual tape cartridge: one file per cartridge,
// holding variable-length records and filemarks, with the behaviour of a
// real drive (SSC): writing erases everything after the position, spacing
// reports exact residuals, capacity has an early-warning zone and a hard end.
//
// The on-disk layout is specified in docs/tape-format.md. In short:
//
//	[4096-byte header page: metadata, two end-of-data slots]
//	[segment][segment]...
//	segment = index block (4096 entries of 64 bytes) | payloads back to back
//
// Each entry is the drive's position just before its object (object,
// file and record number, payload offset and length), so Locate is one
// entry read and filemarks are found by binary search. Data areas start on
// 256 KiB boundaries, so 256 KiB records are written as fast as a plain
// file.
//
// A Medium is not safe for concurrent use. One writer per cartridge file is
// enforced with flock; read-only opens take no lock and see a consistent
// prefix of what a concurrent writer has written.
package tape
