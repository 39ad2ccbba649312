// Package sg sends SCSI commands to a Linux SCSI generic device
// (/dev/sgN, typically a tape library's media changer) with the SG_IO
// ioctl, and is a scsi.Device: the SMC client code (READ ELEMENT STATUS,
// MOVE MEDIUM) and NDMP's SCSI_EXECUTE_CDB pass-through drive a real
// changer exactly as they drive ferry's virtual one. CHECK CONDITION
// comes back as the core's typed *scsi.Sense.
//
// The ioctls go through File, a small interface tests replace with a
// model; docs/linux-tape.md lists what has not been tried on hardware.
package sg
