package tapeinterop

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi"
)

// remote is a logical unit reached through an iSCSI session, as a
// scsi.Device: GOOD is nil, CHECK CONDITION the parsed *scsi.Sense (with
// the data-in kept, as a tape READ with ILI has both), other statuses a
// scsi.StatusError.
//
// Like Linux st, it remembers the block length it selected with MODE
// SELECT, to send the expected length of a fixed-block READ.
type remote struct {
	s         *initiator.Session
	lun       uint64
	blockSize *int
}

// newRemote returns LUN lun of session s as a device.
func newRemote(s *initiator.Session, lun uint64) remote {
	return remote{s, lun, new(int)}
}

var _ scsi.Device = remote{}

// Execute sends the command and maps its result.
func (r remote) Execute(ctx context.Context, cmd *scsi.Command) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := r.s.Execute(ctx, r.lun, cmd.CDB, cmd.DataOut, dataInLen(cmd, *r.blockSize))
	if err != nil {
		return err
	}
	cmd.DataIn = res.Data
	switch res.Status {
	case scsi.StatusGood:
		r.noteBlockSize(cmd)
		return nil
	case scsi.StatusCheckCondition:
		s, perr := scsi.ParseSense(res.Sense)
		if perr != nil {
			return perr
		}
		return s
	}
	return scsi.StatusError{Status: res.Status}
}

// noteBlockSize remembers the block length of a MODE SELECT(6) block
// descriptor the device accepted.
func (r remote) noteBlockSize(cmd *scsi.Command) {
	if cmd.CDB[0] == 0x15 && len(cmd.DataOut) >= 12 && cmd.DataOut[3] == 8 {
		b := cmd.DataOut[9:12]
		*r.blockSize = int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	}
}

// dataInLen is the expected data-in length of a CDB: its transfer or
// allocation length. Commands with data-out expect none.
func dataInLen(cmd *scsi.Command, blockSize int) int {
	cdb := cmd.CDB
	if len(cmd.DataOut) > 0 || len(cdb) == 0 {
		return 0
	}
	get := func(f scsi.Field) int {
		if len(cdb) < f.Offset+f.Size {
			return 0
		}
		return int(f.Get(cdb))
	}
	switch cdb[0] {
	case 0x08, 0x88: // READ(6), READ(16)
		at := 2
		if cdb[0] == 0x88 {
			at = 12
		}
		n := get(scsi.Field{Offset: at, Size: 3})
		if cdb[1]&0x01 != 0 {
			return n * blockSize
		}
		return n
	case 0x05:
		return 6
	case 0x34: // READ POSITION
		if len(cdb) > 8 && cdb[1]&0x1F == 0x08 {
			return int(binary.BigEndian.Uint16(cdb[7:9]))
		}
		if len(cdb) > 1 && cdb[1]&0x1F == 0x06 {
			return 32
		}
		return 20
	case 0xB8, 0xB5: // READ ELEMENT STATUS, REQUEST VOLUME ELEMENT ADDRESS
		return get(scsi.Field{Offset: 7, Size: 3})
	case 0x8C: // READ ATTRIBUTE
		return get(scsi.Field{Offset: 10, Size: 4})
	case 0x12:
		return get(scsi.AllocInquiry)
	case 0x03, 0x1A:
		return get(scsi.Alloc6)
	case 0x5A, 0x4D, 0x44:
		return get(scsi.Alloc10)
	case 0xA0, 0xA3:
		return get(scsi.Alloc12)
	}
	return 0
}

// clearAttention runs TEST UNIT READY until no unit attention is pending
// (a fresh nexus may report power-on or LUN changes first).
func clearAttention(t testing.TB, dev scsi.Device) {
	t.Helper()
	for range 8 {
		err := dev.Execute(context.Background(), &scsi.Command{CDB: make([]byte, 6)})
		if s, ok := scsi.SenseOf(err); !ok || s.Key != scsi.UnitAttention {
			return
		}
	}
	t.Fatal("unit attention does not clear")
}
