// Package dma holds ferry's data manager jobs: they drive NDMP agents
// (ferry's own or anyone's) through internal/ndmp/client and record what
// they did in the catalog (internal/catalog).
//
// A backup job (Backup) runs a two-way NDMP backup: data service and tape
// on one agent, the image appended after everything already on the
// cartridge, preceded by a small header tape file of ferry's own that
// describes the image (Header), with file history ingested into the
// catalog together with the image's tape location. A restore job
// (Restore) reads a backup and the incrementals it is based on back
// through the agent's TAPE_READ and extracts them, in chain order, into a
// local directory with internal/restore.
//
// docs/dma.md describes the tape layout, the header and the job steps.
package dma
