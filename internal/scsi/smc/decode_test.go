package smc

import (
	"context"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/scsi"
)

// TestDecodeElementStatus reads the device's own report back: every
// element, with barcodes, sources and drive names, also when cut short.
func TestDecodeElementStatus(t *testing.T) {
	dev, cc := newDevice(t)
	if err := cc.Move(0x1001, 0x0101); err != nil {
		t.Fatal(err)
	}
	want, _ := cc.Elements()
	cmd := &scsi.Command{CDB: ReadElementStatusCDB(1 << 16)}
	if err := dev.Execute(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeElementStatus(cmd.DataIn)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d elements, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.Type || g.Address != w.Address || g.Full != w.Full || g.Barcode != w.Barcode || g.Drive != w.Drive {
			t.Errorf("element %d: %+v, want %+v", i, g, w)
		}
		if w.Type == changer.DataTransfer && w.Full && (!g.HasSource || g.Source != w.Source) {
			t.Errorf("drive %s: source %#x (%v), want %#x", w.Drive, g.Source, g.HasSource, w.Source)
		}
	}
	// Cut to 100 bytes: only whole descriptors come back.
	cut := &scsi.Command{CDB: ReadElementStatusCDB(100)}
	if err := dev.Execute(context.Background(), cut); err != nil {
		t.Fatal(err)
	}
	part, err := DecodeElementStatus(cut.DataIn)
	if err != nil || len(part) == 0 || len(part) >= len(want) {
		t.Fatalf("cut report: %d elements, %v", len(part), err)
	}
	if _, err := DecodeElementStatus([]byte{0, 1, 0, 1, 0, 0, 0, 8, 9, 0, 0, 12, 0, 0, 0, 0}); err == nil {
		t.Error("page of element type 9 accepted")
	}
}

func FuzzDecodeElementStatus(f *testing.F) {
	dev, _ := newDevice(f)
	cmd := &scsi.Command{CDB: ReadElementStatusCDB(1 << 16)}
	if err := dev.Execute(context.Background(), cmd); err != nil {
		f.Fatal(err)
	}
	f.Add(cmd.DataIn)
	f.Fuzz(func(t *testing.T, b []byte) {
		els, err := DecodeElementStatus(b)
		for _, e := range els {
			if len(e.Barcode) > changer.MaxBarcode {
				t.Fatalf("barcode of %d bytes", len(e.Barcode))
			}
		}
		_ = err
	})
}
