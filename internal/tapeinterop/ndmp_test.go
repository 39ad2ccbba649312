package tapeinterop

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"ferry/internal/library"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
	"ferry/internal/scsi/ssc"
	"ferry/internal/testsupport/ndmptest"
)

const (
	testUser     = "ndmp"
	testPassword = "secret"
)

// rig is a library served by ferry's NDMP agent on 127.0.0.1:0 and by
// ferry's iSCSI target (the SSC LU of drive tape0 as LUN 1) beside it, as
// `ferry serve` runs them; lu reaches the LU through ferry's initiator.
type rig struct {
	lib  *library.Library
	addr string
	dev  *ssc.Device
	lu   scsi.Device
}

func newRig(t *testing.T) *rig {
	t.Helper()
	lo := library.Options{Drives: []string{"tape0"}, Slots: 2, ImportExport: 1, Capacity: 1 << 30, Prefix: "N", Suffix: "L8"}
	a := ndmptest.Start(t, ndmptest.Options{LibraryOptions: &lo, NoEngine: true, Exports: []string{}, User: testUser, Password: testPassword})
	r := &rig{lib: a.Lib, addr: a.Addr, dev: ssc.New(a.Lib, "tape0", ssc.Identity{})}
	t.Cleanup(func() { r.dev.Close() })
	r.lu = serveISCSI(t, units{1: r.dev}, 1)
	return r
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dial opens an authenticated NDMP session.
func (r *rig) dial(t *testing.T) *client.Conn {
	t.Helper()
	c, err := client.Dial(testCtx(t), r.addr, client.Options{User: testUser, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exec runs one CDB on the SSC LU over iSCSI.
func (r *rig) exec(cdb, out []byte) (*scsi.Command, error) {
	cmd := &scsi.Command{CDB: cdb, DataOut: out}
	return cmd, r.lu.Execute(context.Background(), cmd)
}

// backup is a stream of records as a backup application writes them:
// mostly 64 KiB, a few odd sizes, pseudo-random contents.
func backup(seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	sizes := []int{65536, 65536, 1, 65536, 10000, 65536, 65536, 131072, 777}
	recs := make([][]byte, len(sizes))
	for i, n := range sizes {
		recs[i] = make([]byte, n)
		for j := range recs[i] {
			recs[i][j] = byte(rng.Uint32())
		}
	}
	return recs
}

// TestNDMPWriteSSCRead writes a backup through NDMP TAPE_WRITE (TAPE_CLOSE
// adds the filemark) and reads it back record by record through the SSC
// LU over iSCSI: same records, then FILEMARK.
func TestNDMPWriteSSCRead(t *testing.T) {
	r := newRig(t)
	ctx := testCtx(t)
	c := r.dial(t)
	recs := backup(1)
	if err := c.TapeOpen(ctx, "tape0", wire.TapeRdwrMode); err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if n, err := c.TapeWrite(ctx, rec); err != nil || n != len(rec) {
			t.Fatalf("TAPE_WRITE %d bytes: %d, %v", len(rec), n, err)
		}
	}
	// While NDMP holds the drive, the LU refuses: RESERVATION CONFLICT.
	_, err := r.exec([]byte{0x08, 0, 0x01, 0, 0, 0}, nil)
	if st, _ := scsi.StatusOf(err); st != scsi.StatusReservationConflict {
		t.Fatalf("READ while NDMP has the drive: %v, want RESERVATION CONFLICT", err)
	}
	if err := c.TapeClose(ctx); err != nil {
		t.Fatal(err)
	}

	for i, rec := range recs {
		cmd, err := r.exec([]byte{0x08, 0, 0x04, 0, 0, 0}, nil) // up to 256 KiB, SILI clear
		if len(rec) != 256<<10 {
			s, ok := scsi.SenseOf(err)
			if !ok || !s.ILI {
				t.Fatalf("record %d: %v, want ILI for a %d-byte record", i, err, len(rec))
			}
		}
		if !bytes.Equal(cmd.DataIn, rec) {
			t.Fatalf("record %d: %d bytes differ from the %d written", i, len(cmd.DataIn), len(rec))
		}
	}
	_, err = r.exec([]byte{0x08, 0, 0x01, 0, 0, 0}, nil)
	if s, ok := scsi.SenseOf(err); !ok || !s.Filemark {
		t.Fatalf("after the backup: %v, want FILEMARK", err)
	}
	if _, err := r.exec([]byte{0x01, 0, 0, 0, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSSCWriteNDMPRead writes a backup through the SSC LU over iSCSI
// (WRITE, WRITE FILEMARKS, REWIND) and reads it back through NDMP
// TAPE_READ.
func TestSSCWriteNDMPRead(t *testing.T) {
	r := newRig(t)
	ctx := testCtx(t)
	recs := backup(2)
	for _, rec := range recs {
		n := len(rec)
		if _, err := r.exec([]byte{0x0A, 0, byte(n >> 16), byte(n >> 8), byte(n), 0}, rec); err != nil {
			t.Fatalf("WRITE %d: %v", n, err)
		}
	}
	if _, err := r.exec([]byte{0x10, 0, 0, 0, 1, 0}, nil); err != nil {
		t.Fatal(err)
	}
	c := r.dial(t)
	// While the LU holds the drive (away from BOT), NDMP gets DEVICE_BUSY.
	if err := c.TapeOpen(ctx, "tape0", wire.TapeReadMode); !client.IsNDMP(err, wire.ErrDeviceBusy) {
		t.Fatalf("TAPE_OPEN while the LU has the drive: %v, want DEVICE_BUSY", err)
	}
	if _, err := r.exec([]byte{0x01, 0, 0, 0, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.TapeOpen(ctx, "tape0", wire.TapeReadMode); err != nil {
		t.Fatalf("TAPE_OPEN after REWIND: %v", err)
	}
	buf := make([]byte, 256<<10)
	for i, rec := range recs {
		n, err := c.TapeRead(ctx, buf)
		if err != nil || !bytes.Equal(buf[:n], rec) {
			t.Fatalf("TAPE_READ %d: %d bytes, %v; want the %d written", i, n, err, len(rec))
		}
	}
	if _, err := c.TapeRead(ctx, buf); !client.IsNDMP(err, wire.ErrEOF) {
		t.Fatalf("TAPE_READ after the backup: %v, want EOF (filemark)", err)
	}
	if err := c.TapeClose(ctx); err != nil {
		t.Fatal(err)
	}
	// And the LU has the drive again once NDMP let go.
	cmd, err := r.exec([]byte{0x08, 0, 0, 0, 1, 0}, nil)
	if s, ok := scsi.SenseOf(err); err != nil && !(ok && s.ILI) {
		t.Fatalf("READ after TAPE_CLOSE: %v", err)
	}
	if !bytes.Equal(cmd.DataIn, recs[0][:1]) {
		t.Fatalf("READ after TAPE_CLOSE: % x", cmd.DataIn)
	}
}
