package ssc

import (
	"errors"

	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// Additional sense codes of the stream commands (SPC-4 annex D).
const (
	ascqFilemark = 0x01 // 0x00/0x01 FILEMARK DETECTED
	ascqEOM      = 0x02 // 0x00/0x02 END-OF-PARTITION/MEDIUM DETECTED
	ascqBOM      = 0x04 // 0x00/0x04 BEGINNING-OF-PARTITION/MEDIUM DETECTED
	ascqEOD      = 0x05 // 0x00/0x05 END-OF-DATA DETECTED
)

// residue builds the INFORMATION field: a residue, negative for an
// overlength read (two's complement in 32 bits, as fixed sense carries it).
func residue(n int64) uint64 { return uint64(uint32(int32(n))) }

// filemarkSense: a READ or SPACE met a filemark (SSC-3 4.2.5, 7.2, 7.7).
func filemarkSense(res int64) *scsi.Sense {
	return &scsi.Sense{Key: scsi.NoSense, ASCQ: ascqFilemark, Filemark: true, Info: residue(res), InfoValid: true}
}

// endOfDataSense: a READ, SPACE or LOCATE reached end of data (SSC-3
// 4.2.6): BLANK CHECK, END-OF-DATA DETECTED.
func endOfDataSense(res int64, valid bool) *scsi.Sense {
	return &scsi.Sense{Key: scsi.BlankCheck, ASCQ: ascqEOD, Info: residue(res), InfoValid: valid}
}

// bomSense: a backward SPACE reached beginning of partition (SSC-3 7.7).
func bomSense(res int64) *scsi.Sense {
	return &scsi.Sense{Key: scsi.NoSense, ASCQ: ascqBOM, EOM: true, Info: residue(res), InfoValid: true}
}

// earlyWarningSense: a write completed past early warning (SSC-3 4.2.3).
func earlyWarningSense() *scsi.Sense {
	return &scsi.Sense{Key: scsi.NoSense, ASCQ: ascqEOM, EOM: true, InfoValid: true}
}

// overflowSense: a write did not fit before end of partition; res is what
// was not written (SSC-3 4.2.3).
func overflowSense(res int64) *scsi.Sense {
	return &scsi.Sense{Key: scsi.VolumeOverflow, ASCQ: ascqEOM, EOM: true, Info: residue(res), InfoValid: true}
}

// iliSense: a READ met a block of another length than asked (SSC-3
// 4.2.4); res is requested minus actual.
func iliSense(res int64) *scsi.Sense {
	return &scsi.Sense{Key: scsi.NoSense, ILI: true, Info: residue(res), InfoValid: true}
}

// mediumSense maps the tape package's errors that have one fixed answer.
func (d *Device) mediumSense(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tape.ErrWriteProtected), errors.Is(err, tape.ErrReadOnly):
		d.st.alerts[9-1] = true // TapeAlert 09h: write protect
		return scsi.WriteProtected()
	case errors.Is(err, tape.ErrCorrupt), errors.Is(err, tape.ErrDamaged):
		// A damaged cartridge's lost data is reached like a bad block.
		return &scsi.Sense{Key: scsi.MediumError, ASC: 0x11, ASCQ: 0x00} // UNRECOVERED READ ERROR
	}
	return err
}

// writeSense maps a failed write, filemark write or erase: a damaged
// cartridge is never written again, so it answers as a write-protected one
// (DATA PROTECT) rather than with a medium error the initiator might retry.
func (d *Device) writeSense(err error) error {
	if errors.Is(err, tape.ErrDamaged) {
		err = tape.ErrWriteProtected
	}
	if errors.Is(err, tape.ErrWORM) {
		return &scsi.Sense{Key: scsi.DataProtect, ASC: 0x30, ASCQ: 0x0C} // WORM MEDIUM - OVERWRITE ATTEMPTED
	}
	return d.mediumSense(err)
}
