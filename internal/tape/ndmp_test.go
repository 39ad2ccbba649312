package tape

import (
	"bytes"
	"errors"
	"testing"
)

// This file replays the checks of NDMJOB's tape conformance test
// (ndma_ctst_tape.c: T-BWR, T-WRITE, T-READ, T-MTIO) against a Medium,
// through the mapping an NDMP server uses (ndmpDrive below). It pins down
// that the primitives give exactly the residuals and positions the test
// expects, for protocol versions 3 and 4.

type ndmpErr int

const (
	ndmpOK ndmpErr = iota
	ndmpEOF
	ndmpEOM
	ndmpOther
)

// ndmpDrive is the NDMP TAPE service's view of a Medium.
type ndmpDrive struct {
	t   *testing.T
	m   *Medium
	ver int
}

// mtio performs NDMP_TAPE_MTIO and returns the residual count. Running
// into a filemark, BOT or end of data is not an error for MTIO: the
// residual tells the DMA.
func (d *ndmpDrive) mtio(op string, count int) int {
	var done int
	var err error
	switch op {
	case "fsf":
		done, err = d.m.SpaceFilemarks(count)
	case "bsf":
		done, err = d.m.SpaceFilemarks(-count)
	case "fsr", "bsr":
		n := count
		if op == "bsr" {
			n = -count
		}
		done, err = d.m.SpaceRecords(n)
		if errors.Is(err, ErrFilemark) && d.ver < 4 {
			// v3 (like st(4)) ends on the far side of the mark; v4
			// stops before it.
			_, err = d.m.SpaceFilemarks(n / count)
		}
	case "rew":
		err = d.m.Rewind()
		done = count
	case "eof":
		err = d.m.WriteFilemarks(count)
		done = count
	}
	if err != nil && !errors.Is(err, ErrFilemark) && !errors.Is(err, ErrEndOfData) && !errors.Is(err, ErrBeginningOfMedium) {
		d.t.Fatalf("mtio %s %d: %v", op, count, err)
	}
	return count - done
}

// read performs NDMP_TAPE_READ of count bytes.
func (d *ndmpDrive) read(count int) ([]byte, ndmpErr) {
	buf := make([]byte, count)
	n, err := d.m.ReadRecord(buf)
	var rl *RecordLengthError
	switch {
	case err == nil || errors.As(err, &rl):
		return buf[:n], ndmpOK
	case errors.Is(err, ErrFilemark):
		if d.ver >= 4 {
			// v4 reports EOF and leaves the position before the mark.
			d.m.SpaceFilemarks(-1)
		}
		return nil, ndmpEOF
	case errors.Is(err, ErrEndOfData):
		if d.ver >= 4 {
			return nil, ndmpEOM
		}
		return nil, ndmpEOF
	}
	return nil, ndmpOther
}

func (d *ndmpDrive) write(n int, seed int) {
	if err := d.m.WriteRecord(pattern(n, seed)); err != nil {
		d.t.Fatal(err)
	}
}

// check is CHECK_FILENO_RECNO: recno -1 accepts any record number.
func (d *ndmpDrive) check(what string, file uint64, rec int) {
	d.t.Helper()
	p := d.m.Position()
	if p.File != file || rec >= 0 && p.Record != uint64(rec) {
		d.t.Fatalf("%s: file %d record %d, want %d %d", what, p.File, p.Record, file, rec)
	}
}

func (d *ndmpDrive) wantResid(what string, got, want int) {
	d.t.Helper()
	if got != want {
		d.t.Fatalf("%s: residual %d, want %d", what, got, want)
	}
}

func (d *ndmpDrive) wantRead(what string, count int, want ndmpErr) []byte {
	d.t.Helper()
	b, e := d.read(count)
	if e != want {
		d.t.Fatalf("%s: read error %d, want %d", what, e, want)
	}
	return b
}

func TestNDMJOBTapeConformance(t *testing.T) {
	for _, ver := range []int{3, 4} {
		t.Run(map[int]string{3: "v3", 4: "v4"}[ver], func(t *testing.T) {
			d := &ndmpDrive{t: t, m: openRW(t, newCartridge(t, 1<<30)), ver: ver}
			basicWriteAndRead(d)
			writeReadMTIO(d)
		})
	}
}

// basicWriteAndRead is T-BWR.
func basicWriteAndRead(d *ndmpDrive) {
	eod := map[int]ndmpErr{3: ndmpEOF, 4: ndmpEOM}[d.ver]
	d.mtio("rew", 1)
	d.wantResid("bsr at BOT", d.mtio("bsr", 100), 100)
	d.wantResid("bsf at BOT", d.mtio("bsf", 100), 100)
	d.mtio("eof", 1)
	d.wantResid("bsf over one mark", d.mtio("bsf", 100), 99)
	d.wantResid("fsf over one mark", d.mtio("fsf", 100), 99)
	d.wantRead("read at EOD", 64<<10, eod)
	d.wantRead("read at EOD again", 1024, eod)

	d.mtio("rew", 1)
	d.write(512, 1)
	d.wantResid("bsr one record", d.mtio("bsr", 100), 99)
	d.wantResid("fsr one record", d.mtio("fsr", 100), 99)
	d.wantResid("fsr at EOD", d.mtio("fsr", 100), 100)
	d.wantResid("fsf at EOD", d.mtio("fsf", 100), 100)

	for pass := range 2 {
		d.mtio("rew", 1)
		d.write(1024, 2)
		d.mtio("eof", 1)
		d.mtio("rew", 1)
		count := 1024
		if pass == 1 {
			count = 64 << 10
		}
		if b := d.wantRead("read label", count, ndmpOK); !bytes.Equal(b, pattern(1024, 2)) {
			d.t.Fatal("label data differs")
		}
		d.wantRead("read mark", 1024, ndmpEOF)
		if d.ver < 4 {
			d.wantRead("read after mark", 1024, ndmpEOF)
		} else {
			d.mtio("fsf", 1)
			d.wantRead("read after mark", 1024, ndmpEOM)
		}
	}
}

var ttSeries = []struct{ n, size int }{
	{1, 512}, {100, 1024}, {1, 512}, {100, 139}, {1, 512}, {99, 10240}, {1, 512}, {3, 32768}, {1, 512},
}

// writeReadMTIO is T-WRITE, T-READ and T-MTIO.
func writeReadMTIO(d *ndmpDrive) {
	d.mtio("rew", 1)
	for f, s := range ttSeries {
		for r := range s.n {
			d.write(s.size, f*1000+r)
			d.check("write", uint64(f), r+1)
		}
		d.mtio("eof", 1)
		d.check("wfm", uint64(f+1), 0)
	}
	d.mtio("rew", 1)
	for f, s := range ttSeries {
		for r := range s.n {
			if b := d.wantRead("read", s.size, ndmpOK); !bytes.Equal(b, pattern(s.size, f*1000+r)) {
				d.t.Fatalf("file %d record %d differs", f, r)
			}
			d.check("read", uint64(f), r+1)
		}
		d.wantRead("eof read", s.size, ndmpEOF)
		if d.ver > 3 {
			d.check("eof", uint64(f), -1)
			d.mtio("fsf", 1)
		}
		d.check("skip", uint64(f+1), 0)
	}
	for f, s := range ttSeries {
		seekAround(d, f, s.n, s.size)
	}
}

// seekAround is one file of T-MTIO.
func seekAround(d *ndmpDrive, f, n, size int) {
	file := uint64(f)
	d.wantResid("rew", d.mtio("rew", 1), 0)
	d.check("rew", 0, 0)
	d.wantResid("fsf(n)", d.mtio("fsf", f), 0)
	d.check("fsf", file, 0)
	d.wantResid("fsr(1m)", d.mtio("fsr", 1000000), 1000000-n)
	if d.ver < 4 {
		d.check("fsr(1m)", file+1, 0)
		d.mtio("bsf", 1)
		d.check("bsf 1 after fsr(1m)", file, -1)
	} else {
		d.check("fsr(1m)", file, n)
	}
	d.wantResid("bsr(1m)", d.mtio("bsr", 1000000), 1000000-n)
	if f > 0 && d.ver < 4 {
		d.check("bsr(1m)", file-1, -1)
		d.mtio("fsf", 1)
	}
	d.check("bsr(1m)", file, 0)
	d.wantResid("fsr(0)", d.mtio("fsr", 0), 0)
	d.check("fsr(0)", file, 0)
	d.wantResid("fsr(x)", d.mtio("fsr", n/2), 0)
	rec := n / 2
	d.check("fsr(x)", file, rec)
	if b := d.wantRead("fsr(x) read", size, ndmpOK); !bytes.Equal(b, pattern(size, f*1000+rec)) {
		d.t.Fatal("fsr(x) data differs")
	}
	rec++
	if rec > 1 {
		d.wantResid("bsr(2)", d.mtio("bsr", 2), 0)
		rec -= 2
		d.check("bsr(2)", file, rec)
		if b := d.wantRead("bsr(2) read", size, ndmpOK); !bytes.Equal(b, pattern(size, f*1000+rec)) {
			d.t.Fatal("bsr(2) data differs")
		}
	}
}
