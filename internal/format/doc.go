// Package format reads and writes ferry's backup stream: a POSIX pax (POSIX.1-2001)
// archive that GNU tar and bsdtar extract without ferry.
//
// The shape follows archive/tar: a Writer takes a header (WriteHeader) and then the
// entry's data through Write or ReadFrom; a Reader returns one Entry per Next and the
// entry's data through Read or WriteTo. Both keep a sticky error: after the first
// failure every call returns it. Both reuse their buffers, so a stream of small files
// costs no allocation per entry beyond the Entry itself.
//
// Writer contract:
//   - Entry.Name is relative to the backed-up directory, "/"-separated, any bytes
//     except NUL; "." names the backed-up directory itself. Directories are written with
//     a trailing "/" as GNU tar does; the Reader strips it again.
//   - For a Regular entry write exactly Size bytes; for a sparse entry (Sparse != nil)
//     write only the bytes of its segments, in order (the sum of their lengths).
//     Other types carry no data. WriteHeader and Close fail with ErrShortWrite when the
//     previous entry's data is incomplete, Write with ErrWriteTooLong when it overflows.
//   - Offset is the stream offset where the next header starts: record it before
//     WriteHeader to get an entry's file-history position (fh_info).
//
// Reader contract:
//   - Next returns entries with names exactly as stored (apart from a directory's
//     trailing "/"): they may be absolute, contain "..", or be anything else a hostile
//     archive holds. The Reader never touches the file system; restores pass names
//     through CleanName before use.
//   - A Reader may start at any header offset of a stream (direct access recovery):
//     NewReaderAt takes the stream offset where its input begins, so Offset stays in
//     stream coordinates.
//   - Read returns an entry's logical content (holes of sparse files as zeros);
//     WriteTo writes it out and, for a sparse entry and a destination that can seek,
//     seeks over the holes so they stay holes.
//   - Hostile input gets an error wrapping ErrHeader (or io.ErrUnexpectedEOF for a
//     truncated stream), never a panic; extended headers and sparse maps are capped
//     (Limits), and nothing is allocated from a declared size before its bytes arrive.
//
// docs/stream-format.md lists the exact pax profile ferry writes and what it reads.
package format
