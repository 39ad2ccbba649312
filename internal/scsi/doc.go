// Package scsi is ferry's transport-neutral SCSI core: the Command a
// transport delivers, the Device that executes it, sense data as a typed
// error (Sense), and the pieces every command set shares: CDB field
// helpers, a dispatch Table that checks CDB length and the control byte and
// trims DataIn to the allocation length, INQUIRY standard and VPD data,
// REQUEST SENSE and REPORT LUNS.
//
// Transports (iSCSI, NDMP_SCSI_EXECUTE_CDB) turn a Device's answer into
// status and sense bytes with StatusOf. Command sets (smc, and later sbc and
// ssc) build a Table, register their handlers and are Devices themselves.
// This package imports no transport; docs/scsi-core.md is its contract.
package scsi
