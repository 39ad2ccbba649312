//go:build amd64 || arm64

package sg

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"ferry/internal/changer"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
)

// newChanger returns ferry's SMC changer (two drives, four slots, a mail
// slot; cartridges in 0x1000 and 0x1001) behind the model sg driver, and
// the sg device opened on it.
func newChanger(t *testing.T) (*Device, *modelSG, *smc.Memory) {
	t.Helper()
	c := changer.New(changer.Layout{Drives: []string{"tape0", "tape1"}, Slots: 4, ImportExport: 1})
	for addr, b := range map[uint16]string{0x1000: "A00001L8", 0x1001: "A00002L8"} {
		if err := c.Place(addr, b); err != nil {
			t.Fatal(err)
		}
	}
	mem := smc.NewMemory(c)
	m := &modelSG{t: t, dev: smc.New(mem, smc.Identity{Serial: "CHG0001"}), version: 30536}
	d, err := OpenWith(m.open, "/dev/sg3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, m, mem
}

func barcodes(els []changer.Element) map[uint16]string {
	out := map[uint16]string{}
	for _, e := range els {
		if e.Full {
			out[e.Address] = e.Barcode
		}
	}
	return out
}

// TestChangerThroughSG drives a changer the way ferry's SMC client does:
// READ ELEMENT STATUS (data in, its allocation length from the CDB),
// MOVE MEDIUM (no data), and a refused move whose sense comes back as the
// core's typed *scsi.Sense, byte for byte what the changer reported.
func TestChangerThroughSG(t *testing.T) {
	d, m, mem := newChanger(t)
	ctx := context.Background()
	res := &scsi.Command{CDB: smc.ReadElementStatusCDB(64 << 10)}
	if err := d.Execute(ctx, res); err != nil {
		t.Fatal(err)
	}
	if s := m.seen[0]; s.direction != kDxferFromDev || s.dxferLen != 64<<10 || !slices.Equal(s.cdb, res.CDB) {
		t.Fatalf("READ ELEMENT STATUS sent as %+v", s)
	}
	els, err := smc.DecodeElementStatus(res.DataIn)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mem.Elements()
	if got, w := barcodes(els), barcodes(want); len(got) != 2 || got[0x1000] != w[0x1000] || got[0x1001] != w[0x1001] {
		t.Fatalf("element status through sg: %v, want %v", got, w)
	}
	if len(els) != len(want) {
		t.Fatalf("%d elements through sg, the changer has %d", len(els), len(want))
	}

	if err := d.Execute(ctx, &scsi.Command{CDB: smc.MoveMediumCDB(0, 0x1000, 0x1003)}); err != nil {
		t.Fatal(err)
	}
	if s := m.seen[1]; s.direction != kDxferNone || s.dxferLen != 0 {
		t.Fatalf("MOVE MEDIUM sent as %+v", s)
	}
	now, _ := mem.Elements()
	if b := barcodes(now); b[0x1003] != "A00001L8" || b[0x1000] != "" {
		t.Fatalf("after MOVE MEDIUM: %v", b)
	}

	refused := smc.MoveMediumCDB(0, 0x1000, 0x1002)
	err = d.Execute(ctx, &scsi.Command{CDB: refused})
	direct := m.dev.Execute(ctx, &scsi.Command{CDB: refused})
	s, ok := scsi.SenseOf(err)
	if !ok || !errors.Is(err, scsi.MediumSourceElementEmpty()) {
		t.Fatalf("move from an empty slot through sg: %v, want MEDIUM SOURCE ELEMENT EMPTY sense", err)
	}
	ds, _ := scsi.SenseOf(direct)
	if !slices.Equal(s.Bytes(), ds.Bytes()) {
		t.Fatalf("sense through sg %x, from the changer %x", s.Bytes(), ds.Bytes())
	}
}

// TestDataInTrimmedToWhatArrived: INQUIRY asks for 255 bytes; DataIn is
// what the device sent (the residual taken off), and a lent buffer is used.
func TestDataInTrimmedToWhatArrived(t *testing.T) {
	d, m, _ := newChanger(t)
	direct := &scsi.Command{CDB: []byte{scsi.OpInquiry, 0, 0, 0, 255, 0}}
	if err := m.dev.Execute(context.Background(), direct); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 255)
	cmd := &scsi.Command{CDB: direct.CDB, Buffer: buf}
	if err := d.Execute(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cmd.DataIn, direct.DataIn) || len(cmd.DataIn) >= 255 {
		t.Fatalf("INQUIRY through sg: %d bytes, direct %d", len(cmd.DataIn), len(direct.DataIn))
	}
	if &cmd.DataIn[0] != &buf[:1][0] {
		t.Fatal("the lent buffer was not used")
	}
}

func TestDataOutDirection(t *testing.T) {
	d, m, _ := newChanger(t)
	param := make([]byte, 12)
	// MODE SELECT(6) with a 12-byte parameter list; whatever the changer
	// answers, the data goes to the device.
	d.Execute(context.Background(), &scsi.Command{CDB: []byte{0x15, 0x10, 0, 0, 12, 0}, DataOut: param})
	if s := m.seen[0]; s.direction != kDxferToDev || s.dxferLen != 12 {
		t.Fatalf("MODE SELECT sent as %+v", s)
	}
}

// TestTimeoutFromContext: the context's deadline becomes the SG_IO
// timeout; without one the default applies.
func TestTimeoutFromContext(t *testing.T) {
	d, m, _ := newChanger(t)
	tur := []byte{0, 0, 0, 0, 0, 0}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Execute(ctx, &scsi.Command{CDB: tur}); err != nil {
		t.Fatal(err)
	}
	d.Execute(context.Background(), &scsi.Command{CDB: tur})
	if to := m.seen[0].timeout; to > 5000 || to < 4000 {
		t.Fatalf("timeout %d ms for a 5 s deadline", to)
	}
	if to := m.seen[1].timeout; to != uint32(DefaultTimeout/time.Millisecond) {
		t.Fatalf("timeout %d ms without a deadline", to)
	}
	cancel()
	if err := d.Execute(ctx, &scsi.Command{CDB: tur}); !errors.Is(err, context.Canceled) || len(m.seen) != 2 {
		t.Fatalf("a command on a done context: %v (%d sent)", err, len(m.seen))
	}
}

// TestHostTimeoutIsTaskAborted: a command the host adapter timed out is a
// *TransportError the SCSI core reports as TASK ABORTED, never GOOD.
func TestHostTimeoutIsTaskAborted(t *testing.T) {
	d, m, _ := newChanger(t)
	m.host = didTimeOut
	err := d.Execute(context.Background(), &scsi.Command{CDB: []byte{0, 0, 0, 0, 0, 0}})
	var te *TransportError
	if !errors.As(err, &te) || te.HostStatus != didTimeOut {
		t.Fatalf("host timeout: %v", err)
	}
	if st, _ := scsi.StatusOf(err); st != scsi.StatusTaskAborted {
		t.Fatalf("host timeout reported as status %#x", st)
	}
	m.host = 0x01 // DID_NO_CONNECT
	err = d.Execute(context.Background(), &scsi.Command{CDB: []byte{0, 0, 0, 0, 0, 0}})
	if st, _ := scsi.StatusOf(err); !errors.As(err, &te) || st == scsi.StatusGood {
		t.Fatalf("no connect: %v, status %#x", err, st)
	}
}

func TestOpenRefusesOldOrNonSGDevice(t *testing.T) {
	m := &modelSG{t: t, version: 20000}
	if _, err := OpenWith(m.open, "/dev/sg0"); !errors.Is(err, ErrNotSG) {
		t.Fatalf("sg version 2 device: %v", err)
	}
}

func TestDataInLength(t *testing.T) {
	for _, c := range []struct {
		cdb  []byte
		want int
	}{
		{smc.ReadElementStatusCDB(0x012345), 0x012345},
		{[]byte{scsi.OpInquiry, 0, 0, 0x01, 0x02, 0}, 0x0102},
		{smc.MoveMediumCDB(0, 0x1000, 0x0100), 0},
		{[]byte{0x1C, 1, 0, 0x10, 0x00, 0}, 0x1000},
		{[]byte{0xA0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, maxDataIn},
		{[]byte{0xB8, 0}, 0},
	} {
		if got := DataInLength(c.cdb); got != c.want {
			t.Errorf("DataInLength(%x) = %d, want %d", c.cdb, got, c.want)
		}
	}
}

// TestOpenRealNonSGDevice runs the real system calls: /dev/null opens but
// answers SG_GET_VERSION_NUM with ENOTTY.
func TestOpenRealNonSGDevice(t *testing.T) {
	if _, err := Open("/dev/null"); !errors.Is(err, ErrNotSG) {
		t.Fatalf("open /dev/null: %v", err)
	}
}
