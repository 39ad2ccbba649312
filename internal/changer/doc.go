// Package changer is the element model of a tape library: one transport
// (the robot arm), import/export slots (the mail slot), data transfer
// elements (tape drives, each known by the drive's name) and storage slots,
// with the cartridge (barcode) each one holds and the rules for moving
// cartridges between them.
//
// The package is pure and in memory. It knows nothing about files, locks or
// SCSI: the library persists a Changer with MarshalJSON and UnmarshalJSON
// (see docs/changer.md for the state document) and the SMC command set
// (internal/scsi/smc) translates CDBs into calls on it.
//
// Addresses follow a fixed plan so that they are stable across restarts and
// easy to read in traces:
//
//	transport       0x0001
//	import/export   0x0010 ...
//	data transfer   0x0100 ...
//	storage         0x1000 ...
package changer
