// Package tapeinterop holds the tests that join ferry's tape logical units
// (internal/scsi/ssc) to its front doors: a backup written through NDMP
// TAPE_WRITE read back through the SSC LU and the other way round, the
// drive-sharing rule between NDMP sessions and SCSI initiators, and the
// tape conformance suite (ssctest) run over iSCSI against ferry's target
// and against tgt's tape LUN. It lives outside internal/scsi because the
// SCSI packages may not import a transport.
package tapeinterop
