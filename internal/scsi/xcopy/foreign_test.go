package xcopy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
	"ferry/internal/scsi/xcopy"
)

// iscsiDesc is an E5h (IPv4) or EAh (IPv6, 64 bytes) descriptor of LUN
// lun behind portal.
func iscsiDesc(portal netip.AddrPort, lun uint16, pdt scsi.DeviceType) []byte {
	l := scsi.EncodeLUN(lun)
	n := 32
	if portal.Addr().Is6() {
		n = 64
	}
	d := make([]byte, n)
	d[1] = byte(pdt)
	copy(d[4:12], l[:])
	if pdt == scsi.DirectAccess {
		binary.BigEndian.PutUint32(d[28:], 512)
	}
	if n == 32 {
		d[0] = 0xE5
		a := portal.Addr().As4()
		copy(d[12:], a[:])
		binary.BigEndian.PutUint16(d[22:], portal.Port())
		binary.BigEndian.PutUint16(d[26:], 6)
		return d
	}
	d[0] = 0xEA
	a := portal.Addr().As16()
	copy(d[12:], a[:])
	d[32] = 0xFF
	binary.BigEndian.PutUint16(d[34:], portal.Port())
	binary.BigEndian.PutUint16(d[36:], 6)
	return d
}

// TestParseISCSICSCD: E5h and EAh decode to the portal and LUN at the
// byte positions of SPC-4 7.6.3.8-9; an EAh takes two CSCD slots; bad
// fields are INVALID FIELD IN PARAMETER LIST at their byte.
func TestParseISCSICSCD(t *testing.T) {
	v4 := netip.MustParseAddrPort("192.0.2.7:3261")
	v6 := netip.MustParseAddrPort("[2001:db8::5]:3262")
	l := &list{cscds: [][]byte{iscsiDesc(v4, 300, scsi.SequentialAccess), iscsiDesc(v6, 7, scsi.DirectAccess)}}
	got, err := xcopy.Parse(l.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.CSCDs) != 3 {
		t.Fatalf("%d CSCDs, want 3 (E5h, EAh and its extension)", len(got.CSCDs))
	}
	if c := got.CSCDs[0]; c.Portal != v4 || c.LUN != 300 || c.PDT != scsi.SequentialAccess {
		t.Errorf("E5h: %v LUN %d PDT %d", c.Portal, c.LUN, c.PDT)
	}
	if c := got.CSCDs[1]; c.Portal != v6 || c.LUN != 7 || c.BlockLen != 512 || c.BadExtension != 0 {
		t.Errorf("EAh: %v LUN %d block length %d", c.Portal, c.LUN, c.BlockLen)
	}
	for _, c := range []struct {
		name string
		edit func(d []byte)
		at   uint16
	}{
		{"UDP", func(d []byte) { d[27] = 17 }, 16 + 26},
		{"port 0", func(d []byte) { d[22], d[23] = 0, 0 }, 16 + 22},
		{"proxy token", func(d []byte) { d[1] |= 0x40 }, 16 + 1},
		{"LUN not in a known format", func(d []byte) { d[0+4] = 0xC0 }, 16 + 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := iscsiDesc(v4, 1, scsi.DirectAccess)
			c.edit(d)
			_, err := xcopy.Parse((&list{cscds: [][]byte{d}}).bytes())
			s := scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0x00)
			if s.Field == nil || s.Field.Byte != c.at {
				t.Fatalf("field pointer %+v, want byte %d", s.Field, c.at)
			}
		})
	}
}

// localForeign is a Foreign whose "other target" is a second set of
// ferry devices in this process, reached by portal and LUN: what the copy
// manager does with foreign units, without the network. It records what
// it was asked and what was given back.
type localForeign struct {
	xcopy.UnitsFunc
	portal netip.AddrPort
	units  map[uint64]scsi.Device
	fail   error // ByPortal's answer when set

	mu       sync.Mutex
	asked    int
	released int
}

func (f *localForeign) ByPortal(_ context.Context, _ string, portal netip.AddrPort, lun uint64) (xcopy.ForeignUnit, error) {
	f.mu.Lock()
	f.asked++
	f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	d, ok := f.units[lun]
	if portal != f.portal || !ok {
		return nil, xcopy.ErrNotAllowed
	}
	return &lent{Device: d, f: f}, nil
}

func (f *localForeign) ByDesignator(context.Context, string, []byte) ([]xcopy.ForeignUnit, error) {
	return nil, nil
}

type lent struct {
	scsi.Device
	f *localForeign
}

func (l *lent) Release() {
	l.f.mu.Lock()
	l.f.released++
	l.f.mu.Unlock()
}

// failing is a foreign device whose writes fail: with its own sense
// bytes (kept verbatim), or with no status (ErrUnreachable).
type failing struct {
	scsi.Device
	err error
}

func (f failing) Execute(ctx context.Context, cmd *scsi.Command) error {
	if cmd.CDB[0] == 0x0A || cmd.CDB[0] == 0x8A {
		return f.err
	}
	return f.Device.Execute(ctx, cmd)
}

type rawSense []byte

func (r rawSense) Error() string      { return "raw sense" }
func (r rawSense) SenseBytes() []byte { return r }

// TestForeignCSCD: an iSCSI CSCD reaches a unit through the Foreign
// ability and the copy releases it; without the ability, or refused, it
// is UNREACHABLE COPY TARGET; an EAh with a bad extension, or a segment
// naming the extension's slot, is COPY ABORTED, INVALID FIELD IN
// PARAMETER LIST; a foreign device's sense is forwarded byte for byte, and
// one that stops answering is COPY TARGET DEVICE NOT REACHABLE.
func TestForeignCSCD(t *testing.T) {
	local, remote := newBed(t), newBed(t)
	portal := netip.MustParseAddrPort("[2001:db8::9]:3260")
	f := &localForeign{UnitsFunc: xcopy.UnitsFunc(local.unitsOf), portal: portal,
		units: map[uint64]scsi.Device{1: remote.tapes[0], 5: remote.disks[0]}}
	m := xcopy.New(f)
	m.Attach(local.disks[0])
	want := fill(t, local.disks[0], 0, 16, 3)

	l := &list{id: 1}
	src := l.cscd(t, local.disks[0], scsi.DirectAccess, false, false, 512)
	l.cscds = append(l.cscds, iscsiDesc(portal, 5, scsi.DirectAccess)[:32], iscsiDesc(portal, 5, scsi.DirectAccess)[32:])
	l.segs = [][]byte{b2b(false, src, 1, 16, 0, 0)}
	if err := xcopyCmd(local.disks[0], "i", l); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readDisk(t, remote.disks[0], 0, 16), want) {
		t.Fatal("the foreign disk did not get the blocks")
	}
	if f.asked != 1 || f.released != 1 {
		t.Fatalf("asked %d, released %d: want each foreign unit released once", f.asked, f.released)
	}

	t.Run("a segment naming the extension slot", func(t *testing.T) {
		l.id, l.segs = 2, [][]byte{b2b(false, src, 2, 1, 0, 0)}
		s := scsitest.WantSense(t, xcopyCmd(local.disks[0], "i", l), scsi.CopyAborted, 0x26, 0x00)
		if s.Field == nil || s.Field.Byte != uint16(16+96+6) {
			t.Fatalf("field pointer %+v, want the segment's destination ID", s.Field)
		}
	})
	t.Run("an extension that is not FFh", func(t *testing.T) {
		bad := append([]byte(nil), l.cscds[2]...)
		bad[0] = 0xFE
		l2 := &list{id: 3, cscds: [][]byte{l.cscds[0], l.cscds[1], bad}, segs: [][]byte{b2b(false, src, 1, 1, 0, 0)}}
		s := scsitest.WantSense(t, xcopyCmd(local.disks[0], "i", l2), scsi.CopyAborted, 0x26, 0x00)
		if s.Field == nil || s.Field.Byte != 16+64 {
			t.Fatalf("field pointer %+v, want the extension (byte 80)", s.Field)
		}
	})
	t.Run("refused or without the ability", func(t *testing.T) {
		other := &list{id: 4}
		s4 := other.cscd(t, local.disks[0], scsi.DirectAccess, false, false, 512)
		other.cscds = append(other.cscds, iscsiDesc(netip.MustParseAddrPort("192.0.2.1:3260"), 5, scsi.DirectAccess))
		other.segs = [][]byte{b2b(false, s4, 1, 1, 0, 0)}
		scsitest.WantSense(t, xcopyCmd(local.disks[0], "i", other), scsi.CopyAborted, 0x08, 0x04)
		// local's own manager has no Foreign ability.
		scsitest.WantSense(t, xcopyCmd(local.disks[1], "i", other), scsi.CopyAborted, 0x08, 0x04)
		f.fail = xcopy.ErrUnreachable
		defer func() { f.fail = nil }()
		other.id = 5
		other.cscds[1] = iscsiDesc(portal, 5, scsi.DirectAccess)[:32]
		other.cscds = append(other.cscds, iscsiDesc(portal, 5, scsi.DirectAccess)[32:])
		scsitest.WantSense(t, xcopyCmd(local.disks[0], "i", other), scsi.CopyAborted, 0x0D, 0x02)
	})
	t.Run("foreign failures", func(t *testing.T) {
		sense := []byte{0x72, 0x07, 0x27, 0x00, 0, 0, 0, 0} // descriptor format, DATA PROTECT
		for _, c := range []struct {
			err       error
			asc, ascq byte
		}{{rawSense(sense), 0x0D, 0x01}, {errors.Join(xcopy.ErrUnreachable, errors.New("EOF")), 0x0D, 0x02}} {
			f.units[6] = failing{Device: remote.disks[1], err: c.err}
			l := &list{id: 6}
			s := l.cscd(t, local.disks[0], scsi.DirectAccess, false, false, 512)
			l.cscds = append(l.cscds, iscsiDesc(portal, 6, scsi.DirectAccess)[:32], iscsiDesc(portal, 6, scsi.DirectAccess)[32:])
			l.segs = [][]byte{b2b(false, s, 1, 1, 0, 0)}
			err := xcopyCmd(local.disks[0], "i", l)
			got := scsitest.WantSense(t, err, scsi.CopyAborted, c.asc, c.ascq)
			_, raw := scsi.StatusOf(err)
			if c.asc == 0x0D && c.ascq == 0x01 {
				if got.CmdInfo>>16&0xFF != 18 || raw[18] != scsi.StatusCheckCondition || !bytes.Equal(raw[19:], sense) {
					t.Fatalf("sense % x: want the foreign sense bytes verbatim after byte 18", raw)
				}
			} else if len(raw) != scsi.FixedSenseLen {
				t.Fatalf("sense % x: nothing to forward without a status", raw)
			}
		}
	})
}
