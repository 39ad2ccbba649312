// Package dma holds ferry's data manager jobs: they drive NDMP agents
// (ferry's own or anyone's) through internal/ndmp/client and record what
// they did in the catalog (internal/catalog).
//
// A backup job (Backup) runs a two-way NDMP backup (data service and tape
// on one agent) or a 3-way one (BackupSpec.Tape: the data service of one
// agent feeds the mover of another over TCP). The image is appended after
// everything already on the cartridge, preceded by a small header tape
// file of ferry's own that describes it (volume.Header), and the file history is
// ingested into the catalog together with the image's tape location.
//
// A restore job (Restore) reads a backup and the incrementals it is based
// on back through the tape agent's TAPE_READ and extracts them, in chain
// order, into a local directory with internal/restore; RestoreToAgent has
// the agent's data service restore onto its own file system, chosen paths
// by direct access (DAR) with the catalog's fh_info. Verify reads an image
// back against the catalog; ScanTape lists a cartridge's image headers.
//
// docs/dma.md describes the tape layout, the header and the job steps.
package dma
