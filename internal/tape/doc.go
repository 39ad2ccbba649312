// Package tape is ferry's virtual tape cartridge: one file per cartridge,
// holding variable-length records and filemarks, with the behaviour of a
// real drive (SSC): writing erases everything after the position, spacing
// reports exact residuals, capacity has an early-warning zone and a hard end.
//
// The on-disk layout is specified in docs/tape-format.md. In short:
//
//	[4096-byte header page: metadata, two end-of-data slots]
//	[frame][frame]...            end of data = end of the last valid frame
//	frame = 56-byte header | payload | 16-byte trailer
//
// Each frame header is the drive's position just before that object (object
// number, file number, record within the file, the offsets of the previous
// filemark and of the previous checkpoint), so any frame found by offset
// tells where it is, and the chains of filemarks and checkpoints (every
// 4096th object) let Locate and filemark spacing avoid reading the tape.
//
// A Medium is not safe for concurrent use. One writer per cartridge file is
// enforced with flock; read-only opens take no lock and see a consistent
// prefix of what a concurrent writer has written.
package tape
