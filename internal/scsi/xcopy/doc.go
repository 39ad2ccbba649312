// Package xcopy is ferry's SCSI copy manager: EXTENDED COPY (LID1,
// opcode 83h service action 00h) and RECEIVE COPY RESULTS (84h: COPY
// STATUS, RECEIVE DATA, OPERATING PARAMETERS, FAILED SEGMENT DETAILS),
// with the third-party copy VPD page 0x8F and the INQUIRY 3PC bit.
//
// Parse decodes a parameter list with every length and limit check SPC-4
// asks for. A Manager attaches the two commands to the logical units of a
// target (Attach) and runs the segments by issuing ordinary CDBs (READ(16),
// WRITE(16), READ(6), WRITE(6), WRITE FILEMARKS, SPACE, LOCATE) to the
// logical units its copy target descriptors name, through the same code
// paths an initiator reaches. It finds those units through the narrow
// Units interface it declares: only among the units the issuing I_T nexus
// may address, so an initiator cannot read or write a unit it could not
// reach itself. docs/xcopy.md is this package's contract.
package xcopy
