// Package restore extracts the entries of a backup stream (internal/format) into a
// destination directory, safely.
//
// Everything goes through an *os.Root opened on the destination, and on top of
// what os.Root refuses (names that leave the root, symlinks pointing out of it)
// the Extractor refuses names that are absolute or contain "..", and parents that
// are symlinks even when they point inside the destination, so a stream that
// plants a symlink and then writes "through" it gets a per-entry error.
//
// Each file, symlink or special file is created under a temporary name in its
// final directory (".ferry-restore-*") and renamed into place once its data and
// metadata are complete: an aborted restore leaves no half-written file under a
// final name (a temporary may remain if the process dies; Extract removes its own
// on every return). Directory metadata (mode, times) is set after the
// directory's contents, deepest first. An existing file is left alone unless
// Options.Overwrite is set.
//
// Hard links are restored as links to the first restored name of their set. When
// a link's data lies under a name that was not selected, the Extractor asks
// Options.ReadAt (a Source starting at that name's header) for it, so any one
// name of a hard-linked set restores the data.
//
// Small regular files are written by a few worker goroutines while the stream
// is read (Options.Workers), with results still reported in stream order and
// entries of one name kept in order; see docs/restore.md.
//
// Every entry produces one Result: restored, skipped (not selected) or failed
// with the reason; metadata that could not be applied is reported in
// Result.Meta without failing the entry.
//
// Incremental streams carry a listing of every directory's names (see Listing);
// ApplyListing removes what the listing no longer holds, so applying a chain of
// incrementals in order honors deletions and renames.
//
// The package knows nothing of NDMP: ferry's DMA uses it for local restores.
package restore
