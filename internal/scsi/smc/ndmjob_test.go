package smc

import (
	"bytes"
	"encoding/binary"
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// The CDBs Amanda's ndmjob (ndmp-src/smc_api.c) sends through
// NDMP_SCSI_EXECUTE_CDB, byte for byte.
var (
	ndmjobInquiry    = []byte{0x12, 0, 0, 0, 128, 0}
	ndmjobModeSense  = []byte{0x1A, 0x08, 0x1D, 0, 255, 0}
	ndmjobRES        = []byte{0xB8, 0x10, 0, 0, 0, 80, 0, 0x00, 0x20, 0x00, 0, 0} // VOLTAG, all types, 80 elements, 8192 bytes
	ndmjobRESNoTag   = []byte{0xB8, 0x00, 0, 0, 0, 80, 0, 0x00, 0x20, 0x00, 0, 0}
	ndmjobInitStatus = []byte{0x07, 0, 0, 0, 0, 0}
)

func ndmjobMove(mte, src, dst uint16) []byte {
	cdb := make([]byte, 12)
	cdb[0] = 0xA5
	binary.BigEndian.PutUint16(cdb[2:], mte)
	binary.BigEndian.PutUint16(cdb[4:], src)
	binary.BigEndian.PutUint16(cdb[6:], dst)
	return cdb
}

// robotElem is what ndmjob keeps of an element descriptor.
type robotElem struct {
	typ    byte
	addr   uint16
	full   bool
	svalid bool
	src    uint16
	volume string
	impExp bool
}

// robotView is ndmjob's picture of the robot after obtain_info.
type robotView struct {
	ident                 string
	mte, se, iee, dte     uint16
	mteN, seN, ieeN, dteN uint16
	elems                 []robotElem
}

// obtainInfo does what ndmca_robot_obtain_info does: INQUIRY, MODE SENSE
// of the element address assignment page, READ ELEMENT STATUS, with
// ndmjob's checks and parsing rules.
func obtainInfo(t *testing.T, dev scsi.Device) robotView {
	t.Helper()
	var v robotView
	inq := scsitest.MustExec(t, dev, ndmjobInquiry, nil)
	if len(inq) > 128 || inq[0] != 0x08 {
		t.Fatalf("ndmjob: not a media changer: % x", inq)
	}
	v.ident = string(bytes.TrimRight(inq[8:36], " "))
	ms := scsitest.MustExec(t, dev, ndmjobModeSense, nil)
	if len(ms) > 255 || ms[0] < 18 {
		t.Fatalf("ndmjob: short sense data % x", ms)
	}
	p := ms[4:] // ndmjob assumes no block descriptor (it sets DBD)
	get := func(i int) uint16 { return binary.BigEndian.Uint16(p[i:]) }
	v.mte, v.mteN, v.se, v.seN = get(2), get(4), get(6), get(8)
	v.iee, v.ieeN, v.dte, v.dteN = get(10), get(12), get(14), get(16)
	data := scsitest.MustExec(t, dev, ndmjobRES, nil)
	if len(data) > 8192 {
		t.Fatalf("ndmjob: %d bytes overflow its 8192-byte buffer", len(data))
	}
	v.elems = parseLikeNdmjob(data)
	return v
}

// parseLikeNdmjob walks element status data with ndmjob's rules: the
// header's byte count bounds the data, each page's byte count bounds its
// descriptors, volume tags are trimmed of trailing spaces.
func parseLikeNdmjob(raw []byte) []robotElem {
	end := len(raw)
	if n := int(raw[5])<<16 | int(raw[6])<<8 | int(raw[7]); end > n+8 {
		end = n + 8
	}
	var out []robotElem
	for p := 8; p+8 < end; {
		dl := int(binary.BigEndian.Uint16(raw[p+2:]))
		pgEnd := min(p+8+(int(raw[p+5])<<16|int(raw[p+6])<<8|int(raw[p+7])), end)
		typ, pvol := raw[p], raw[p+1]&0x80 != 0
		for p += 8; p+dl <= pgEnd && dl > 0; p += dl {
			d := raw[p : p+dl]
			e := robotElem{typ: typ, addr: binary.BigEndian.Uint16(d), full: d[2]&1 != 0, impExp: d[2]&2 != 0,
				svalid: d[9]&0x80 != 0, src: binary.BigEndian.Uint16(d[10:])}
			if pvol {
				e.volume = string(bytes.TrimRight(bytes.TrimRight(d[12:44], " "), "\x00"))
			}
			out = append(out, e)
		}
		p = pgEnd
	}
	return out
}

func (v robotView) find(addr uint16) (robotElem, bool) {
	for _, e := range v.elems {
		if e.addr == addr {
			return e, true
		}
	}
	return robotElem{}, false
}

// TestNdmjobQuery is `ndmjob -q -R host -r changer0`.
func TestNdmjobQuery(t *testing.T) {
	dev, _ := newDevice(t)
	v := obtainInfo(t, dev)
	if v.ident != "FERRY   VIRTUAL CHANGER 0001" {
		t.Errorf("ident %q", v.ident)
	}
	if v.mte != 1 || v.mteN != 1 || v.se != 0x1000 || v.seN != 4 || v.iee != 0x10 || v.ieeN != 1 || v.dte != 0x100 || v.dteN != 2 {
		t.Errorf("element address assignment %+v", v)
	}
	if len(v.elems) != 8 {
		t.Fatalf("%d elements, want 8: %+v", len(v.elems), v.elems)
	}
	if e, _ := v.find(0x1001); !e.full || e.volume != "A00002" || e.typ != 2 {
		t.Errorf("slot 0x1001: %+v", e)
	}
	if e, _ := v.find(0x1002); !e.full || e.volume != "" {
		t.Errorf("unlabelled slot 0x1002: %+v", e)
	}
	noTag := parseLikeNdmjob(scsitest.MustExec(t, dev, ndmjobRESNoTag, nil))
	if len(noTag) != 8 || noTag[7].volume != "" || !noTag[7].full == (noTag[7].addr != 0x1003) {
		t.Errorf("without volume tags: %+v", noTag)
	}
}

// TestNdmjobLoadUnload is `-o init-elem-status`, then `-o load=4096`
// (slot to the first drive), then `-o unload` (back to the drive's
// source), then `-o move -o from-addr=4097 -o to-addr=16`.
func TestNdmjobLoadUnload(t *testing.T) {
	dev, cc := newDevice(t)

	obtainInfo(t, dev)
	scsitest.MustExec(t, dev, ndmjobInitStatus, nil)
	obtainInfo(t, dev)
	if cc.inits != 1 {
		t.Fatalf("init-elem-status reached the library %d times", cc.inits)
	}

	v := obtainInfo(t, dev) // load
	scsitest.MustExec(t, dev, ndmjobMove(v.mte, 0x1000, v.dte), nil)

	v = obtainInfo(t, dev) // unload: ndmjob takes the drive's SValid source
	d, _ := v.find(v.dte)
	if !d.full || !d.svalid || d.src != 0x1000 || d.volume != "A00001" {
		t.Fatalf("drive after load: %+v", d)
	}
	if s, _ := v.find(d.src); s.typ != 2 || s.full {
		t.Fatalf("source slot %+v is not an empty storage element", s)
	}
	scsitest.MustExec(t, dev, ndmjobMove(v.mte, v.dte, d.src), nil)

	v = obtainInfo(t, dev) // move
	scsitest.MustExec(t, dev, ndmjobMove(v.mte, 0x1001, 0x0010), nil)
	v = obtainInfo(t, dev)
	if s, _ := v.find(0x1000); !s.full || s.volume != "A00001" {
		t.Errorf("slot 0x1000 after unload: %+v", s)
	}
	if m, _ := v.find(0x0010); !m.full || m.volume != "A00002" || m.impExp || !m.svalid || m.src != 0x1001 {
		t.Errorf("mail slot after move: %+v", m)
	}
	if d, _ := v.find(v.dte); d.full {
		t.Errorf("drive still full: %+v", d)
	}
}

// TestNdmjobFailedMove is what ndmjob sees when a move is refused: CHECK
// CONDITION with sense it reads at byte 2 (key) and 12-13 (ASC/ASCQ).
func TestNdmjobFailedMove(t *testing.T) {
	dev, _ := newDevice(t)
	_, err := scsitest.Exec(dev, ndmjobMove(1, 0x1003, 0x0100), nil)
	status, sense := scsi.StatusOf(err)
	if status != 0x02 || len(sense) != 18 || sense[2]&0x0F != 0x05 || sense[12] != 0x3B || sense[13] != 0x0E {
		t.Fatalf("status %#x sense % x", status, sense)
	}
}
