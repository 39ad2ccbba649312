package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/library"
	"ferry/internal/scsi"
)

const (
	iqnA     = "iqn.2005-03.com.example:a"
	iqnB     = "iqn.2005-03.com.example:b"
	iqnAll   = "iqn.2005-03.com.example:all"
	iqnOther = "iqn.2005-03.com.example:other"
)

// TestLUNMasking serves a node whose ACL lets A see only disk "a", B only
// the library and "all" everything, with --require-acl: each sees only its
// LUs in REPORT LUNS, another LUN answers LOGICAL UNIT NOT SUPPORTED, an
// EXTENDED COPY from A naming disk b by its designator copies nothing, and
// an initiator not on the ACL cannot log in on loopback.
func TestLUNMasking(t *testing.T) {
	state := t.TempDir()
	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() }) // after the target stops
	disks := filepath.Join(state, "disks")
	ma, err := disk.Create(disks, "a", 1<<20, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := disk.Create(disks, "b", 1<<20, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lunA, lunB := uint64(firstDiskLUN+ma.Index), uint64(firstDiskLUN+mb.Index)
	l := Layout{Root: state}
	st, err := LoadTargetState(l)
	if err != nil {
		t.Fatal(err)
	}
	st.ACL = []ACLEntry{
		{Initiator: iqnA, Disks: []string{"a"}},
		{Initiator: iqnB, Libraries: []string{lib.ChangerName()}},
		{Initiator: iqnAll},
	}
	if err := st.Save(l); err != nil {
		t.Fatal(err)
	}
	srv, _ := startTarget(t, l, lib, time.Hour, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func(name string) (*initiator.Session, error) {
		return initiator.Dial(ctx, srv.Addr().String(), initiator.Config{InitiatorName: name, TargetName: srv.Name()})
	}
	sessions := map[string]*initiator.Session{}
	for _, name := range []string{iqnA, iqnB, iqnAll} {
		s, err := dial(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer s.Close()
		sessions[name] = s
	}
	a, b, all := sessions[iqnA], sessions[iqnB], sessions[iqnAll]

	if got := reportLUNs(t, ctx, a); !bytes.Equal(got, scsi.ReportLUNsData([]uint16{uint16(lunA)})) {
		t.Errorf("A's REPORT LUNS = %x", got)
	}
	libLUNs := []uint16{changerLUN}
	for i := range min(len(lib.DriveNames()), maxDriveLUs) {
		libLUNs = append(libLUNs, uint16(firstDriveLU+i))
	}
	if got := reportLUNs(t, ctx, b); !bytes.Equal(got, scsi.ReportLUNsData(libLUNs)) {
		t.Errorf("B's REPORT LUNS = %x", got)
	}
	if got := reportLUNs(t, ctx, all); !bytes.Equal(got, scsi.ReportLUNsData(append(libLUNs, uint16(lunA), uint16(lunB)))) {
		t.Errorf("unmasked REPORT LUNS = %x", got)
	}
	for _, c := range []struct {
		who string
		s   *initiator.Session
		lun uint64
	}{{"A", a, lunB}, {"A", a, changerLUN}, {"B", b, lunA}} {
		r, err := c.s.Execute(ctx, c.lun, make([]byte, 6), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if sense, _ := scsi.ParseSense(r.Sense); sense == nil || sense.ASC != 0x25 || sense.ASCQ != 0 {
			t.Errorf("%s: TEST UNIT READY on LUN %d: status %#x sense %x, want LOGICAL UNIT NOT SUPPORTED", c.who, c.lun, r.Status, r.Sense)
		}
	}

	// A writes a pattern to disk a, then asks for a copy of it onto disk b,
	// naming b by the designator the unmasked initiator reads.
	pattern := bytes.Repeat([]byte{0xA5}, 512)
	write10 := []byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0}
	if r, err := a.Execute(ctx, lunA, write10, pattern, 0); err != nil || r.Status != 0 {
		t.Fatalf("WRITE to a: %v %+v", err, r)
	}
	param := xcopyB2B(vpdNAA(t, ctx, all, lunA), vpdNAA(t, ctx, all, lunB))
	cdb := make([]byte, 16)
	cdb[0] = 0x83
	binary.BigEndian.PutUint32(cdb[10:], uint32(len(param)))
	r, err := a.Execute(ctx, lunA, cdb, param, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sense, _ := scsi.ParseSense(r.Sense); sense == nil || sense.Key != 0x0A || sense.ASC != 0x08 || sense.ASCQ != 0x04 {
		t.Errorf("EXTENDED COPY naming disk b: status %#x sense %x, want COPY ABORTED, UNREACHABLE COPY TARGET", r.Status, r.Sense)
	}
	read10 := []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}
	r, err = all.Execute(ctx, lunB, read10, nil, 512)
	if err != nil || r.Status != 0 {
		t.Fatalf("READ b: %v %+v", err, r)
	}
	if !bytes.Equal(r.Data, make([]byte, 512)) {
		t.Error("disk b changed by A's EXTENDED COPY")
	}
	// The same list from the unmasked initiator copies: the refusal above
	// is the masking, not a bad list.
	if r, err := all.Execute(ctx, lunA, cdb, param, 0); err != nil || r.Status != 0 {
		t.Fatalf("unmasked EXTENDED COPY: %v status %#x sense %x", err, r.Status, r.Sense)
	}
	if r, err = all.Execute(ctx, lunB, read10, nil, 512); err != nil || !bytes.Equal(r.Data, pattern) {
		t.Errorf("unmasked EXTENDED COPY did not copy: %v", err)
	}

	var le *initiator.LoginError
	if _, err := dial(iqnOther); !errors.As(err, &le) {
		t.Errorf("initiator not on the ACL logged in on loopback with require-acl: %v", err)
	}
}

// vpdNAA reads the NAA designator of a LUN from its VPD page 0x83.
func vpdNAA(t *testing.T, ctx context.Context, s *initiator.Session, lun uint64) []byte {
	t.Helper()
	r, err := s.Execute(ctx, lun, []byte{0x12, 1, 0x83, 0x04, 0, 0}, nil, 1024)
	if err != nil || r.Status != 0 || len(r.Data) < 4 {
		t.Fatalf("VPD 0x83 of LUN %d: %v %+v", lun, err, r)
	}
	p := r.Data[4:]
	for len(p) >= 4 && len(p) >= 4+int(p[3]) {
		n := int(p[3])
		if p[1]&0x3F == 0x03 { // logical unit association, NAA
			return p[4 : 4+n]
		}
		p = p[4+n:]
	}
	t.Fatalf("LUN %d has no NAA designator", lun)
	return nil
}

// xcopyB2B is an EXTENDED COPY (LID1) parameter list copying block 0 of
// the disk designated src onto block 0 of the disk designated dst: two
// E4h descriptors and one 02h segment.
func xcopyB2B(src, dst []byte) []byte {
	e4 := func(naa []byte) []byte {
		d := make([]byte, 32)
		d[0] = 0xE4 // identification descriptor, direct access
		d[4], d[5], d[7] = 1, 0x03, byte(len(naa))
		copy(d[8:], naa)
		binary.BigEndian.PutUint32(d[28:], 512) // disk block length
		return d
	}
	cscds := append(e4(src), e4(dst)...)
	seg := make([]byte, 28)
	seg[0] = 0x02
	binary.BigEndian.PutUint16(seg[2:], 0x18)
	binary.BigEndian.PutUint16(seg[4:], 0)
	binary.BigEndian.PutUint16(seg[6:], 1)
	binary.BigEndian.PutUint16(seg[10:], 1) // one block
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[2:], uint16(len(cscds)))
	binary.BigEndian.PutUint32(h[8:], uint32(len(seg)))
	return append(append(h, cscds...), seg...)
}
