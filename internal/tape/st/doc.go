// Package st drives a real Linux SCSI tape drive through the st driver's
// non-rewinding device (/dev/nstN) with the behaviour of ferry's virtual
// cartridge (internal/tape): the same method names, positions and errors,
// so the NDMP TAPE service can serve either.
//
// The drive is used in variable block mode (each write is one record).
// Every operation is a read, a write or one of three ioctls (MTIOCTOP,
// MTIOCGET, MTIOCPOS) on a File, the small system-call interface tests
// replace with a model tape; docs/linux-tape.md lists the ioctls, the
// error mapping and what has not been tried on hardware.
package st
