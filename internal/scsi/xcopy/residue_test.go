package xcopy_test

import (
	"bytes"
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// TestResidueTable walks SPC-4 table 116 row by row, each row twice: a
// destination residue (3 disk blocks, 1536 bytes, to 1024-byte tape
// records: 512 bytes left to write) and a source residue (a 1536-byte tape
// record read for 2 disk blocks: 512 bytes read but not needed).
func TestResidueTable(t *testing.T) {
	type want struct {
		records [][2]int // (a) tape records as source byte ranges; {-1, n}: n zero bytes follow the previous
		block2  string   // (b) what disk block 2 holds: "R1 tail" or "R2 head"
	}
	for _, row := range []struct {
		name            string
		cat, sPAD, dPAD bool
		inexact         bool
		want            want
	}{
		{"CAT=1, PADs 0 0: both residues kept", true, false, false, false,
			want{[][2]int{{0, 1024}, {1024, 2048}, {2048, 3072}}, "R1 tail"}},
		{"CAT=1, PADs 1 1: both residues kept", true, true, true, false,
			want{[][2]int{{0, 1024}, {1024, 2048}, {2048, 3072}}, "R1 tail"}},
		{"CAT=0, PADs 1 1: source residue dropped, destination padded", false, true, true, false,
			want{[][2]int{{0, 1024}, {1024, 1536}, {-1, 512}, {1536, 2560}, {2560, 3072}, {-1, 512}}, "R2 head"}},
		{"CAT=0, PADs 0 1: source residue kept, destination padded", false, false, true, false,
			want{[][2]int{{0, 1024}, {1024, 1536}, {-1, 512}, {1536, 2560}, {2560, 3072}, {-1, 512}}, "R1 tail"}},
		{"CAT=0, PADs 1 0: both residues dropped", false, true, false, false,
			want{[][2]int{{0, 1024}, {1536, 2560}}, "R2 head"}},
		{"CAT=0, PADs 0 0: a residue is an inexact segment", false, false, false, true, want{}},
	} {
		t.Run(row.name, func(t *testing.T) {
			b := newBed(t)
			src := fill(t, b.disks[0], 0, 6, 41)

			// (a) destination residue: disk 0 -> tape 0.
			l := &list{id: 1}
			s := l.cscd(t, b.disks[0], scsi.DirectAccess, row.sPAD, false, 512)
			tp := l.cscd(t, b.tapes[0], scsi.SequentialAccess, row.dPAD, false, 0)
			l.segs = [][]byte{b2s(0x00, row.cat, s, tp, 1024, 3, 0), b2s(0x00, row.cat, s, tp, 1024, 3, 3)}
			err := xcopyCmd(b.disks[0], "i", l)
			if row.inexact {
				sense := scsitest.WantSense(t, err, scsi.CopyAborted, 0x26, 0x0A)
				if sense.CmdInfo&0xFFFF != 0 || !sense.InfoValid || sense.Info != 1024 {
					t.Fatalf("segment %d, residual %d (valid %v): want segment 0, 1024 bytes written", sense.CmdInfo&0xFFFF, sense.Info, sense.InfoValid)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				var expect []byte
				var lens []int
				for _, r := range row.want.records {
					if r[0] < 0 {
						expect = append(expect, make([]byte, r[1])...)
						lens[len(lens)-1] += r[1]
						continue
					}
					expect = append(expect, src[r[0]:r[1]]...)
					lens = append(lens, r[1]-r[0])
				}
				rewind(t, b.tapes[0])
				var got []byte
				var gotLens []int
				for {
					rec, err := readRecord(b.tapes[0])
					if err != nil {
						break
					}
					got, gotLens = append(got, rec...), append(gotLens, len(rec))
				}
				if !equalInts(gotLens, lens) || !bytes.Equal(got, expect) {
					t.Fatalf("(a) tape records %v, want %v (or their bytes differ)", gotLens, lens)
				}
			}

			// (b) source residue: tape 1 -> disk 1.
			r1, r2 := bytes.Repeat([]byte{0xA1}, 1536), bytes.Repeat([]byte{0xB2}, 1536)
			copy(r1[1024:], bytes.Repeat([]byte{0xC3}, 512)) // R1's tail
			writeRecord(t, b.tapes[1], r1)
			writeRecord(t, b.tapes[1], r2)
			rewind(t, b.tapes[1])
			l = &list{id: 2}
			t1 := l.cscd(t, b.tapes[1], scsi.SequentialAccess, row.sPAD, false, 0)
			d := l.cscd(t, b.disks[1], scsi.DirectAccess, row.dPAD, false, 512)
			l.segs = [][]byte{b2s(0x01, row.cat, t1, d, 1536, 2, 0), b2s(0x01, true, t1, d, 1536, 1, 2)}
			err = xcopyCmd(b.disks[0], "i", l)
			if row.inexact {
				sense := scsitest.WantSense(t, err, scsi.CopyAborted, 0x26, 0x0A)
				if sense.CmdInfo&0xFFFF != 0 || !sense.InfoValid || sense.Info != 2 {
					t.Fatalf("segment %d, residual %d: want segment 0, 2 blocks written", sense.CmdInfo&0xFFFF, sense.Info)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			blk := readDisk(t, b.disks[1], 2, 1)
			got := map[bool]string{true: "R1 tail", false: "R2 head"}[bytes.Equal(blk, r1[1024:])]
			if got != row.want.block2 || (got == "R2 head" && !bytes.Equal(blk, r2[:512])) {
				t.Fatalf("(b) block 2 holds %s, want %s", got, row.want.block2)
			}
		})
	}
}
