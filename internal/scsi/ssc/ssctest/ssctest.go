// Package ssctest is ferry's tape drive conformance suite: checks of the
// SSC-3 (and SPC-4) behaviour of a sequential-access logical unit over
// any scsi.Device, whether the device itself, a LUN reached over iSCSI,
// or another implementation's tape LUN. Each check names the clause it
// holds the device to.
//
// Run needs a logical unit with a loaded, writable cartridge whose data
// the suite may destroy. RunEndOfMedium, RunWriteProtected and RunNoMedium
// need a cartridge in the state their names say.
package ssctest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"ferry/internal/scsi"
)

// Config adapts the suite to an implementation.
type Config struct {
	// Skip names checks to skip, with the reason (e.g. what another
	// target does not implement).
	Skip map[string]string
	// NoReadPosition says READ POSITION does not report the position
	// (tgt answers zeros): positions are then checked by reading alone.
	NoReadPosition bool
}

// lu is the device under test with what the suite knows of it.
type lu struct {
	scsi.Device
	noReadPosition bool
}

// Check is one conformance check.
type Check struct {
	Name   string
	Clause string // the standard's clause the check holds the device to
	Run    func(t testing.TB, dev scsi.Device)
}

// Checks are the checks Run runs, in order.
func Checks() []Check {
	return []Check{
		{"Inquiry", "SPC-4 6.4.2, SSC-3 6.1", inquiry},
		{"TestUnitReady", "SPC-4 6.37, SSC-3 4.2.1", testUnitReady},
		{"Rewind", "SSC-3 7.6, 7.5 (short form BOP)", rewind},
		{"WriteReadVariable", "SSC-3 7.4, 7.10 (FIXED=0)", writeReadVariable},
		{"ReadFilemark", "SSC-3 4.2.5, 7.4: FILEMARK, 0x00/0x01, INFORMATION = residue", readFilemark},
		{"ReadEndOfData", "SSC-3 4.2.6, 7.4: BLANK CHECK, 0x00/0x05", readEndOfData},
		{"ReadILIShort", "SSC-3 4.2.4, 7.4: ILI, INFORMATION = requested - actual (negative)", readILIShort},
		{"ReadILILong", "SSC-3 4.2.4, 7.4: ILI, INFORMATION = requested - actual", readILILong},
		{"ReadSILI", "SSC-3 7.4: SILI suppresses incorrect length with block length 0", readSILI},
		{"ReadFixedVariableConflict", "SSC-3 7.4: SILI and FIXED both set is an invalid field", readFixedSILI},
		{"FixedBlock", "SSC-3 7.4, 7.10, 8.3.3 (block descriptor block length)", fixedBlock},
		{"FixedBlockFilemark", "SSC-3 7.4: fixed READ meeting a filemark, residue in blocks", fixedFilemark},
		{"FixedWithoutBlockSize", "SSC-3 7.4: FIXED=1 with block length 0 is an invalid field", fixedNoBlockSize},
		{"FixedBlockILI", "SSC-3 7.4: fixed READ of a block of another length, ILI, residue in blocks", fixedILI},
		{"Unbuffered", "SSC-3 8.3.2: buffered mode 0 accepted, writes still read back", unbuffered},
		{"SpaceBlocks", "SSC-3 7.7 (code 000b)", spaceBlocks},
		{"SpaceBlocksFilemark", "SSC-3 7.7: FILEMARK, position past the mark, residue", spaceBlocksFilemark},
		{"SpaceBackwardBOP", "SSC-3 7.7: NO SENSE, EOM, 0x00/0x04 at beginning of partition", spaceBackBOP},
		{"SpaceFilemarks", "SSC-3 7.7 (code 001b), both directions", spaceFilemarks},
		{"SpaceFilemarksEOD", "SSC-3 7.7: BLANK CHECK 0x00/0x05 at end of data", spaceFilemarksEOD},
		{"SpaceEndOfData", "SSC-3 7.7 (code 011b)", spaceEOD},
		{"Space16", "SSC-3 8.3.5 SPACE(16)", space16},
		{"Locate10", "SSC-3 7.3 LOCATE(10)", locate10},
		{"Locate16", "SSC-3 8.3.2 LOCATE(16), SSC-4 DEST_TYPE", locate16},
		{"LocateBeyondEOD", "SSC-3 7.3: BLANK CHECK 0x00/0x05", locateEOD},
		{"ReadPositionLong", "SSC-3 7.5 long form", readPositionLong},
		{"ReadPositionExtended", "SSC-3 7.5 extended form", readPositionExtended},
		{"WriteTruncates", "SSC-3 4.2.2: a write makes its position end of data", writeTruncates},
		{"WriteFilemarks16", "SSC-3 8.3.9 WRITE FILEMARKS(16)", writeFilemarks16},
		{"Read16Write16", "SSC-3 8.3.3, 8.3.8 READ(16)/WRITE(16)", readWrite16},
		{"Erase", "SSC-3 7.1 ERASE", erase},
		{"ReadBlockLimits", "SSC-3 7.5 READ BLOCK LIMITS", readBlockLimits},
		{"ModeSense", "SPC-4 6.11, SSC-3 8.3: header, block descriptor, pages 0x0F 0x10", modeSense},
		{"ModeSelect", "SPC-4 6.9, SSC-3 8.3.3: block length changes, bad fields refused", modeSelect},
		{"LogSense", "SPC-4 6.6, 7.3.18; SSC-3 8.2: supported pages, TapeAlert, sequential access", logSense},
		{"ReportDensitySupport", "SSC-3 6.3", reportDensity},
		{"ReadAttribute", "SPC-4 6.16, 7.4.2: MAM capacity and barcode", readAttribute},
		{"LoadUnload", "SSC-3 7.2: not ready after UNLOAD, ready after LOAD", loadUnload},
		{"PreventAllow", "SPC-4 6.13: UNLOAD refused while removal is prevented", preventAllow},
	}
}

// Run runs every check on dev, each as a subtest.
func Run(t *testing.T, d scsi.Device, c Config) {
	dev := &lu{d, c.NoReadPosition}
	for _, ch := range Checks() {
		t.Run(ch.Name, func(t *testing.T) {
			if why, ok := c.Skip[ch.Name]; ok {
				t.Skip(why)
			}
			setVariable(t, dev)
			mustExec(t, dev, cdbRewind())
			ch.Run(t, dev)
		})
	}
}

// exec runs one command.
func exec(dev scsi.Device, cdb, out []byte) (*scsi.Command, error) {
	cmd := &scsi.Command{CDB: cdb, DataOut: out}
	return cmd, dev.Execute(context.Background(), cmd)
}

// mustExec runs a command that must end GOOD and returns its data-in.
func mustExec(t testing.TB, dev scsi.Device, cdb []byte) []byte {
	t.Helper()
	cmd, err := exec(dev, cdb, nil)
	if err != nil {
		t.Fatalf("CDB % x: %v", cdb, err)
	}
	return cmd.DataIn
}

// mustWrite runs a data-out command that must end GOOD.
func mustWrite(t testing.TB, dev scsi.Device, cdb, data []byte) {
	t.Helper()
	if _, err := exec(dev, cdb, data); err != nil {
		t.Fatalf("CDB % x with %d bytes: %v", cdb, len(data), err)
	}
}

// want is the sense a check expects.
type want struct {
	key                scsi.SenseKey
	asc, ascq          uint8
	filemark, eom, ili bool
	info               int64
	infoValid          bool
}

// wantSense fails unless err is CHECK CONDITION with exactly w's key,
// codes, stream bits and (when infoValid) information field, as the
// fixed-format bytes carry them.
func wantSense(t testing.TB, err error, w want) *scsi.Sense {
	t.Helper()
	status, b := scsi.StatusOf(err)
	if status != scsi.StatusCheckCondition {
		t.Fatalf("status %#02x (%v), want CHECK CONDITION %v %#02x/%#02x", status, err, w.key, w.asc, w.ascq)
	}
	s, perr := scsi.ParseSense(b)
	if perr != nil {
		t.Fatalf("sense % x: %v", b, perr)
	}
	got := fmt.Sprintf("%v %#02x/%#02x FM=%v EOM=%v ILI=%v", s.Key, s.ASC, s.ASCQ, s.Filemark, s.EOM, s.ILI)
	exp := fmt.Sprintf("%v %#02x/%#02x FM=%v EOM=%v ILI=%v", w.key, w.asc, w.ascq, w.filemark, w.eom, w.ili)
	if got != exp {
		t.Fatalf("sense %s, want %s (%v)", got, exp, err)
	}
	if w.infoValid && (!s.InfoValid || int32(uint32(s.Info)) != int32(w.info)) {
		t.Fatalf("sense information %d (valid %v), want %d", int32(uint32(s.Info)), s.InfoValid, w.info)
	}
	return s
}

// wantInvalidField fails unless err is ILLEGAL REQUEST with the ASC and,
// when the device reports one, a field pointer at byteIdx.
func wantInvalidField(t testing.TB, err error, asc uint8, byteIdx int) {
	t.Helper()
	s := wantSense(t, err, want{key: scsi.IllegalRequest, asc: asc})
	if s.Field != nil && int(s.Field.Byte) != byteIdx {
		t.Fatalf("field pointer at byte %d, want %d", s.Field.Byte, byteIdx)
	}
}

// pattern returns n bytes that differ between records (seed) and offsets.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i>>8)
	}
	return b
}

// readPos returns the logical object number of the short form.
func readPos(t testing.TB, dev scsi.Device) (block uint32, bop bool) {
	t.Helper()
	b := mustExec(t, dev, []byte{0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if len(b) != 20 {
		t.Fatalf("READ POSITION short form: %d bytes, want 20", len(b))
	}
	return binary.BigEndian.Uint32(b[4:]), b[0]&0x80 != 0
}

// wantPos fails unless the position is block. Checks follow it with a
// read where they can, so a device whose READ POSITION says nothing is
// still checked.
func wantPos(t testing.TB, dev scsi.Device, block uint32) {
	t.Helper()
	if l, ok := dev.(*lu); ok && l.noReadPosition {
		return
	}
	if got, _ := readPos(t, dev); got != block {
		t.Fatalf("position %d, want %d", got, block)
	}
}

// writeTape writes a known layout from BOT and rewinds:
//
//	0: rec A (512)  1: rec B (1000)  2: FM  3: rec C (4096)  4: FM  5: FM  6: rec D (3)  EOD at 7
func writeTape(t testing.TB, dev scsi.Device) {
	t.Helper()
	mustExec(t, dev, cdbRewind())
	mustWrite(t, dev, cdbWrite6(false, 512), pattern(1, 512))
	mustWrite(t, dev, cdbWrite6(false, 1000), pattern(2, 1000))
	mustExec(t, dev, cdbWFM6(1))
	mustWrite(t, dev, cdbWrite6(false, 4096), pattern(3, 4096))
	mustExec(t, dev, cdbWFM6(2))
	mustWrite(t, dev, cdbWrite6(false, 3), pattern(4, 3))
	mustExec(t, dev, cdbRewind())
}

// readRecord reads one variable record of up to n bytes that must match.
func readRecord(t testing.TB, dev scsi.Device, n int, want []byte) {
	t.Helper()
	got := mustExec(t, dev, cdbRead6(false, false, n))
	if !bytes.Equal(got, want) {
		t.Fatalf("READ %d: %d bytes, want %d matching", n, len(got), len(want))
	}
}

// setVariable selects variable-block mode.
func setVariable(t testing.TB, dev scsi.Device) { setBlockSize(t, dev, 0) }

// setBlockSize selects a block length through MODE SELECT(6) with PF.
func setBlockSize(t testing.TB, dev scsi.Device, n int) {
	t.Helper()
	data := []byte{0, 0, 0x10, 8, 0, 0, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n)}
	mustWrite(t, dev, []byte{0x15, 0x10, 0, 0, byte(len(data)), 0}, data)
}

// CDB builders.
func cdbRewind() []byte { return []byte{0x01, 0, 0, 0, 0, 0} }

func cdbRead6(fixed, sili bool, n int) []byte {
	return []byte{0x08, bit(fixed, 0) | bit(sili, 1), byte(n >> 16), byte(n >> 8), byte(n), 0}
}

func cdbWrite6(fixed bool, n int) []byte {
	return []byte{0x0A, bit(fixed, 0), byte(n >> 16), byte(n >> 8), byte(n), 0}
}

func cdbWFM6(n int) []byte { return []byte{0x10, 0, byte(n >> 16), byte(n >> 8), byte(n), 0} }

func cdbSpace6(code byte, n int) []byte {
	return []byte{0x11, code, byte(n >> 16), byte(n >> 8), byte(n), 0}
}

func cdbLocate10(block uint32) []byte {
	c := []byte{0x2B, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(c[3:], block)
	return c
}

func bit(b bool, n uint) byte {
	if b {
		return 1 << n
	}
	return 0
}
