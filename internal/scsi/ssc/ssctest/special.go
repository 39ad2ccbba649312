package ssctest

import (
	"testing"

	"ferry/internal/scsi"
)

// RunEndOfMedium fills the cartridge with 64 KiB records and checks the
// early-warning and end-of-partition sense (SSC-3 4.2.3, 7.10): writes
// past early warning complete with NO SENSE, EOM, 0x00/0x02 (and READ
// POSITION reports EOP); the write
// that does not fit ends with VOLUME OVERFLOW, EOM, 0x00/0x02 and the
// whole transfer as residue. maxRecords bounds the loop.
func RunEndOfMedium(t *testing.T, dev scsi.Device, maxRecords int) {
	setVariable(t, dev)
	mustExec(t, dev, cdbRewind())
	const n = 64 << 10
	data := pattern(11, n)
	warned := false
	for i := 0; i < maxRecords; i++ {
		_, err := exec(dev, cdbWrite6(false, n), data)
		if err == nil {
			if warned {
				t.Fatalf("record %d: GOOD after early warning, want EOM again", i)
			}
			continue
		}
		s, _ := scsi.SenseOf(err)
		if s != nil && s.Key == scsi.VolumeOverflow {
			if !warned {
				t.Fatalf("record %d: VOLUME OVERFLOW without early warning first", i)
			}
			wantSense(t, err, want{key: scsi.VolumeOverflow, ascq: 0x02, eom: true, info: n, infoValid: true})
			_, err = exec(dev, cdbWFM6(1), nil)
			if s, _ := scsi.SenseOf(err); err != nil && (s == nil || !s.EOM) {
				t.Fatalf("WRITE FILEMARKS past early warning: %v", err)
			}
			return
		}
		wantSense(t, err, want{key: scsi.NoSense, ascq: 0x02, eom: true})
		if !warned {
			// SSC-3 7.5: EOP once past early warning.
			if b := mustExec(t, dev, []byte{0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0}); b[0]&0x40 == 0 {
				t.Fatalf("READ POSITION past early warning: flags %#02x, want EOP", b[0])
			}
		}
		warned = true
	}
	t.Fatalf("no end of medium after %d records", maxRecords)
}

// RunWriteProtected checks a write-protected cartridge (SSC-3 4.2.2,
// 8.3.2): WP in the mode header, DATA PROTECT, WRITE PROTECTED (0x27/0x00)
// for WRITE, WRITE FILEMARKS and ERASE, while READ works.
func RunWriteProtected(t *testing.T, dev scsi.Device) {
	mustExec(t, dev, cdbRewind())
	b := mustExec(t, dev, []byte{0x1A, 0, 0x10, 0, 255, 0})
	if b[2]&0x80 == 0 {
		t.Errorf("MODE SENSE device-specific parameter % x, want WP", b[2])
	}
	for _, c := range []struct {
		cdb, data []byte
	}{
		{cdbWrite6(false, 10), pattern(1, 10)},
		{cdbWFM6(1), nil},
		{[]byte{0x19, 0x01, 0, 0, 0, 0}, nil},
	} {
		_, err := exec(dev, c.cdb, c.data)
		wantSense(t, err, want{key: scsi.DataProtect, asc: 0x27})
	}
}

// RunNoMedium checks an empty drive (SPC-4 6.37, SSC-3 4.2.1): NOT READY,
// MEDIUM NOT PRESENT (0x3A) for TEST UNIT READY, READ, WRITE and SPACE,
// while INQUIRY works.
func RunNoMedium(t *testing.T, dev scsi.Device) {
	mustExec(t, dev, []byte{0x12, 0, 0, 0, 96, 0})
	for _, c := range [][]byte{make([]byte, 6), cdbRead6(false, false, 10), cdbSpace6(1, 1), {0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		_, err := exec(dev, c, nil)
		wantSense(t, err, want{key: scsi.NotReady, asc: 0x3A})
	}
	_, err := exec(dev, cdbWrite6(false, 10), pattern(1, 10))
	wantSense(t, err, want{key: scsi.NotReady, asc: 0x3A})
}
