package scsi

// Constructors for the sense data ferry's command sets return. Each returns
// a new *Sense, so callers may add fields (Info, Field) without sharing.

// field returns a field pointer; bit < 0 means no bit pointer.
func field(cdb bool, byteIdx, bit int) *FieldPointer {
	f := &FieldPointer{CDB: cdb, Byte: uint16(byteIdx)}
	if bit >= 0 && bit <= 7 {
		f.Bit, f.BitValid = uint8(bit), true
	}
	return f
}

// InvalidOpcode is ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (0x20/0x00).
func InvalidOpcode() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x20, Field: field(true, 0, -1)}
}

// InvalidFieldInCDB is ILLEGAL REQUEST, INVALID FIELD IN CDB (0x24/0x00)
// pointing at byte byteIdx and, when bit >= 0, at that bit (the field's
// most significant bit).
func InvalidFieldInCDB(byteIdx, bit int) *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x24, Field: field(true, byteIdx, bit)}
}

// InvalidFieldInParameterList is ILLEGAL REQUEST, INVALID FIELD IN
// PARAMETER LIST (0x26/0x00) pointing at a byte (and bit) of the data-out.
func InvalidFieldInParameterList(byteIdx, bit int) *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x26, Field: field(false, byteIdx, bit)}
}

// ParameterListLengthError is ILLEGAL REQUEST, PARAMETER LIST LENGTH
// ERROR (0x1A/0x00).
func ParameterListLengthError() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x1A}
}

// LBAOutOfRange is ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE
// (0x21/0x00).
func LBAOutOfRange() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x21}
}

// InvalidElementAddress is ILLEGAL REQUEST, INVALID ELEMENT ADDRESS
// (0x21/0x01), pointing at the CDB byte of the address when byteIdx >= 0.
func InvalidElementAddress(byteIdx int) *Sense {
	s := &Sense{Key: IllegalRequest, ASC: 0x21, ASCQ: 0x01}
	if byteIdx >= 0 {
		s.Field = field(true, byteIdx, -1)
	}
	return s
}

// LUNNotSupported is ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED (0x25/0x00).
func LUNNotSupported() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x25}
}

// SavingParametersNotSupported is ILLEGAL REQUEST, SAVING PARAMETERS NOT
// SUPPORTED (0x39/0x00).
func SavingParametersNotSupported() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x39}
}

// MediumRemovalPrevented is ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED
// (0x53/0x02).
func MediumRemovalPrevented() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x53, ASCQ: 0x02}
}

// MediumSourceElementEmpty is ILLEGAL REQUEST, MEDIUM SOURCE ELEMENT EMPTY
// (0x3B/0x0E).
func MediumSourceElementEmpty() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x3B, ASCQ: 0x0E}
}

// MediumDestinationElementFull is ILLEGAL REQUEST, MEDIUM DESTINATION
// ELEMENT FULL (0x3B/0x0D).
func MediumDestinationElementFull() *Sense {
	return &Sense{Key: IllegalRequest, ASC: 0x3B, ASCQ: 0x0D}
}

// MediumNotPresent is NOT READY, MEDIUM NOT PRESENT (0x3A/0x00).
func MediumNotPresent() *Sense {
	return &Sense{Key: NotReady, ASC: 0x3A}
}

// LogicalUnitNotReady is NOT READY, LOGICAL UNIT NOT READY with the given
// qualifier: 0x00 cause not reportable, 0x01 becoming ready, 0x02
// initializing command required, 0x03 manual intervention required.
func LogicalUnitNotReady(ascq uint8) *Sense {
	return &Sense{Key: NotReady, ASC: 0x04, ASCQ: ascq}
}

// UnitAttentionSense is UNIT ATTENTION with the given condition, e.g.
// 0x29/0x00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED, 0x28/0x00 NOT
// READY TO READY CHANGE, 0x2A/0x01 MODE PARAMETERS CHANGED, 0x3F/0x0E
// REPORTED LUNS DATA HAS CHANGED.
func UnitAttentionSense(asc, ascq uint8) *Sense {
	return &Sense{Key: UnitAttention, ASC: asc, ASCQ: ascq}
}

// PowerOnReset is UNIT ATTENTION, POWER ON, RESET, OR BUS DEVICE RESET
// OCCURRED (0x29/0x00).
func PowerOnReset() *Sense { return UnitAttentionSense(0x29, 0x00) }

// WriteProtected is DATA PROTECT, WRITE PROTECTED (0x27/0x00).
func WriteProtected() *Sense {
	return &Sense{Key: DataProtect, ASC: 0x27}
}

// InternalTargetFailure is HARDWARE ERROR, INTERNAL TARGET FAILURE
// (0x44/0x00): what a Device's unexpected error becomes.
func InternalTargetFailure() *Sense {
	return &Sense{Key: HardwareError, ASC: 0x44}
}

// NoSenseData is NO SENSE, NO ADDITIONAL SENSE INFORMATION: what REQUEST
// SENSE returns when nothing is pending.
func NoSenseData() *Sense { return &Sense{Key: NoSense} }

// ascText names the additional sense codes ferry uses, for error messages.
func ascText(asc, ascq uint8) string {
	switch uint16(asc)<<8 | uint16(ascq) {
	case 0x0000:
		return "no additional sense information"
	case 0x0400:
		return "logical unit not ready, cause not reportable"
	case 0x0401:
		return "logical unit is in process of becoming ready"
	case 0x0402:
		return "logical unit not ready, initializing command required"
	case 0x1A00:
		return "parameter list length error"
	case 0x2000:
		return "invalid command operation code"
	case 0x2100:
		return "logical block address out of range"
	case 0x2101:
		return "invalid element address"
	case 0x2400:
		return "invalid field in CDB"
	case 0x2500:
		return "logical unit not supported"
	case 0x2600:
		return "invalid field in parameter list"
	case 0x2700:
		return "write protected"
	case 0x2800:
		return "not ready to ready change, medium may have changed"
	case 0x2900:
		return "power on, reset, or bus device reset occurred"
	case 0x2A01:
		return "mode parameters changed"
	case 0x3900:
		return "saving parameters not supported"
	case 0x3A00:
		return "medium not present"
	case 0x3B0D:
		return "medium destination element full"
	case 0x3B0E:
		return "medium source element empty"
	case 0x3F0E:
		return "reported luns data has changed"
	case 0x4400:
		return "internal target failure"
	case 0x5302:
		return "medium removal prevented"
	}
	return ""
}
