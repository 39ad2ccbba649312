package changer

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testLayout() Layout {
	return Layout{Drives: []string{"tape0", "tape1"}, Slots: 4, ImportExport: 1}
}

func TestNewAddressPlan(t *testing.T) {
	c := New(testLayout())
	want := []Element{
		{Type: Transport, Address: 0x0001},
		{Type: ImportExport, Address: 0x0010},
		{Type: DataTransfer, Address: 0x0100, Drive: "tape0"},
		{Type: DataTransfer, Address: 0x0101, Drive: "tape1"},
		{Type: Storage, Address: 0x1000},
		{Type: Storage, Address: 0x1001},
		{Type: Storage, Address: 0x1002},
		{Type: Storage, Address: 0x1003},
	}
	if diff := cmp.Diff(want, c.Elements()); diff != "" {
		t.Fatalf("elements (-want +got):\n%s", diff)
	}
	for _, addr := range []uint16{0, 2, 0x0f, 0x11, 0xff, 0x102, 0xfff, 0x1004, 0xffff} {
		if _, err := c.Element(addr); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("Element(%#x) = %v, want ErrInvalidAddress", addr, err)
		}
	}
	e, err := c.DriveElement("tape1")
	if err != nil || e.Address != 0x0101 {
		t.Fatalf("DriveElement(tape1) = %+v, %v", e, err)
	}
	if _, err := c.DriveElement("tape9"); !errors.Is(err, ErrNoDrive) {
		t.Fatalf("DriveElement(tape9) = %v, want ErrNoDrive", err)
	}
}

func TestElementsIsACopy(t *testing.T) {
	c := New(testLayout())
	els := c.Elements()
	els[0].Full = true
	if e, _ := c.Element(TransportAddress); e.Full {
		t.Fatal("changing the Elements result changed the changer")
	}
}

func TestPlace(t *testing.T) {
	c := New(testLayout())
	steps := []struct {
		addr    uint16
		barcode string
		want    error
	}{
		{0x1000, "A00001L6", nil},
		{0x1000, "A00002L6", ErrDestinationFull},
		{0x1001, "A00001L6", ErrDuplicateBarcode},
		{0x1001, "", nil}, // unlabelled
		{0x1002, "", nil}, // two unlabelled cartridges are fine
		{0x1003, "HAS SPACE", ErrInvalidBarcode},
		{0x1003, "0123456789012345678901234567890123", ErrInvalidBarcode},
		{0x1003, "01234567890123456789012345678901", nil},
		{0x2000, "X", ErrInvalidAddress},
	}
	for _, s := range steps {
		if err := c.Place(s.addr, s.barcode); !errors.Is(err, s.want) {
			t.Errorf("Place(%#x, %q) = %v, want %v", s.addr, s.barcode, err, s.want)
		}
	}
	if addr, ok := c.Find("A00001L6"); !ok || addr != 0x1000 {
		t.Fatalf("Find = %#x, %v", addr, ok)
	}
	if _, ok := c.Find(""); ok {
		t.Fatal("Find(\"\") found an unlabelled cartridge")
	}
}

// loaded returns a changer with cartridges in slots 0x1000 and 0x1001.
func loaded(t *testing.T) *Changer {
	t.Helper()
	c := New(testLayout())
	for addr, b := range map[uint16]string{0x1000: "A1", 0x1001: "A2"} {
		if err := c.Place(addr, b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestMoveRules(t *testing.T) {
	tests := []struct {
		name     string
		src, dst uint16
		prevent  bool
		want     error
	}{
		{"slot to drive", 0x1000, 0x0100, false, nil},
		{"slot to slot", 0x1000, 0x1003, false, nil},
		{"slot to transport", 0x1000, 0x0001, false, nil},
		{"slot to mail slot", 0x1000, 0x0010, false, nil},
		{"onto itself", 0x1000, 0x1000, false, nil},
		{"source empty", 0x1002, 0x0100, false, ErrSourceEmpty},
		{"empty onto itself", 0x1002, 0x1002, false, ErrSourceEmpty},
		{"destination full", 0x1000, 0x1001, false, ErrDestinationFull},
		{"bad source", 0x1004, 0x0100, false, ErrInvalidAddress},
		{"bad destination", 0x1000, 0x0102, false, ErrInvalidAddress},
		{"to mail slot prevented", 0x1000, 0x0010, true, ErrRemovalPrevented},
		{"to drive while prevented", 0x1000, 0x0100, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loaded(t)
			c.SetPreventRemoval(tt.prevent)
			before := c.Elements()
			err := c.Move(tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Move = %v, want %v", err, tt.want)
			}
			if err != nil || tt.src == tt.dst {
				if diff := cmp.Diff(before, c.Elements()); diff != "" {
					t.Fatalf("state changed (-before +after):\n%s", diff)
				}
				return
			}
			s, _ := c.Element(tt.src)
			d, _ := c.Element(tt.dst)
			if s.Full || s.Barcode != "" || s.HasSource {
				t.Errorf("source after move = %+v", s)
			}
			if !d.Full || d.Barcode != "A1" || !d.HasSource || d.Source != 0x1000 {
				t.Errorf("destination after move = %+v", d)
			}
		})
	}
}

func TestSourceTracking(t *testing.T) {
	c := loaded(t)
	mustMove(t, c, 0x1000, TransportAddress)
	mustMove(t, c, TransportAddress, 0x0100)
	wantSource(t, c, 0x0100, 0x1000) // through the transport
	mustMove(t, c, 0x0100, 0x0010)
	wantSource(t, c, 0x0010, 0x1000) // drive to mail slot keeps the slot
	mustMove(t, c, 0x0010, 0x1003)
	wantSource(t, c, 0x1003, 0x1000)
	mustMove(t, c, 0x1003, 0x0101)
	wantSource(t, c, 0x0101, 0x1003) // a new storage element
	if err := c.Place(0x0010, "NEW"); err != nil {
		t.Fatal(err)
	}
	mustMove(t, c, 0x0010, 0x0100)
	if e, _ := c.Element(0x0100); e.HasSource {
		t.Fatalf("a cartridge imported through the mail slot has a source: %+v", e)
	}
}

func wantSource(t *testing.T, c *Changer, addr, src uint16) {
	t.Helper()
	e, _ := c.Element(addr)
	if !e.Full || !e.HasSource || e.Source != src {
		t.Fatalf("element %#x = %+v, want source %#x", addr, e, src)
	}
}

func mustMove(t *testing.T, c *Changer, src, dst uint16) {
	t.Helper()
	if err := c.Move(src, dst); err != nil {
		t.Fatalf("Move(%#x, %#x): %v", src, dst, err)
	}
}

func TestExchange(t *testing.T) {
	tests := []struct {
		name            string
		src, dst1, dst2 uint16
		prevent         bool
		want            error
		after           map[uint16]string // barcode per address; "-" empty
	}{
		{"swap", 0x1000, 0x1001, 0x1000, false, nil, map[uint16]string{0x1000: "A2", 0x1001: "A1"}},
		{"rotate", 0x1000, 0x1001, 0x0100, false, nil, map[uint16]string{0x1000: "-", 0x1001: "A1", 0x0100: "A2"}},
		{"source empty", 0x1002, 0x1001, 0x1002, false, ErrSourceEmpty, nil},
		{"first destination empty", 0x1000, 0x1002, 0x1000, false, ErrSourceEmpty, nil},
		{"second destination full", 0x1000, 0x1001, 0x1001, false, ErrInvalidAddress, nil},
		{"src is dst1", 0x1000, 0x1000, 0x1002, false, ErrInvalidAddress, nil},
		{"bad address", 0x1000, 0x1001, 0x9999, false, ErrInvalidAddress, nil},
		{"to mail slot prevented", 0x1000, 0x1001, 0x0010, true, ErrRemovalPrevented, nil},
		{"to mail slot allowed", 0x1000, 0x1001, 0x0010, false, nil, map[uint16]string{0x1000: "-", 0x1001: "A1", 0x0010: "A2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loaded(t)
			c.SetPreventRemoval(tt.prevent)
			before := c.Elements()
			err := c.Exchange(tt.src, tt.dst1, tt.dst2)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Exchange = %v, want %v", err, tt.want)
			}
			if err != nil {
				if diff := cmp.Diff(before, c.Elements()); diff != "" {
					t.Fatalf("state changed (-before +after):\n%s", diff)
				}
				return
			}
			for addr, b := range tt.after {
				e, _ := c.Element(addr)
				if got := map[bool]string{false: "-", true: e.Barcode}[e.Full]; got != b {
					t.Errorf("%#x holds %q, want %q", addr, got, b)
				}
			}
		})
	}
}

func TestExchangeDestinationFull(t *testing.T) {
	c := loaded(t)
	if err := c.Place(0x1002, "A3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exchange(0x1000, 0x1001, 0x1002); !errors.Is(err, ErrDestinationFull) {
		t.Fatalf("Exchange = %v, want ErrDestinationFull", err)
	}
}

func TestExchangeSources(t *testing.T) {
	c := loaded(t)
	if err := c.Exchange(0x1000, 0x1001, 0x1000); err != nil {
		t.Fatal(err)
	}
	a, _ := c.Element(0x1000)
	b, _ := c.Element(0x1001)
	if a.Source != 0x1001 || !a.HasSource || b.Source != 0x1000 || !b.HasSource {
		t.Fatalf("sources after swap: %+v %+v", a, b)
	}
}

func TestRemove(t *testing.T) {
	c := loaded(t)
	mustMove(t, c, 0x1000, 0x0010)
	c.SetPreventRemoval(true)
	if !c.PreventRemoval() {
		t.Fatal("PreventRemoval = false after SetPreventRemoval(true)")
	}
	if _, err := c.Remove(0x0010); !errors.Is(err, ErrRemovalPrevented) {
		t.Fatalf("Remove while prevented = %v", err)
	}
	c.SetPreventRemoval(false)
	if b, err := c.Remove(0x0010); err != nil || b != "A1" {
		t.Fatalf("Remove = %q, %v", b, err)
	}
	if _, err := c.Remove(0x0010); !errors.Is(err, ErrSourceEmpty) {
		t.Fatalf("Remove of empty = %v", err)
	}
	if err := c.Place(0x0010, "A1"); err != nil {
		t.Fatalf("the removed barcode cannot come back: %v", err)
	}
}

func TestLayoutValidate(t *testing.T) {
	bad := []Layout{
		{Slots: -1},
		{Slots: MaxSlots + 1},
		{ImportExport: MaxImportExport + 1},
		{Drives: []string{"a", "a"}},
		{Drives: []string{""}},
		{Drives: make([]string, MaxDrives+1)},
	}
	for _, l := range bad {
		if err := l.Validate(); !errors.Is(err, ErrBadLayout) {
			t.Errorf("Validate(%d drives, %d slots, %d ie) = %v", len(l.Drives), l.Slots, l.ImportExport, err)
		}
	}
	if err := testLayout().Validate(); err != nil {
		t.Fatal(err)
	}
	c := New(Layout{Slots: MaxSlots + 10, ImportExport: -3})
	l := c.Layout()
	if l.Slots != MaxSlots || l.ImportExport != 0 {
		t.Fatalf("New did not clamp: %+v", l)
	}
	last, err := c.Element(0xffff)
	if err != nil || last.Type != Storage {
		t.Fatalf("last slot = %+v, %v", last, err)
	}
}

func TestZeroChanger(t *testing.T) {
	var c Changer
	if _, err := c.Element(TransportAddress); !errors.Is(err, ErrInvalidAddress) {
		t.Fatalf("zero changer has a transport: %v", err)
	}
	if err := c.Move(1, 2); !errors.Is(err, ErrInvalidAddress) {
		t.Fatal(err)
	}
}
