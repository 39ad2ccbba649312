package scsi

import (
	"bytes"
	"context"
	"testing"
)

// echoTable returns a table whose 0x1A (6-byte, alloc byte 4) and 0xA3/0x05
// (12-byte service action, alloc 6-9) ops return 40 bytes 0..39.
func echoTable() *Table {
	data := func(_ context.Context, cmd *Command) error {
		cmd.DataIn = make([]byte, 40)
		for i := range cmd.DataIn {
			cmd.DataIn[i] = byte(i)
		}
		return nil
	}
	t := &Table{}
	t.Register(0x1A, Op{Name: "six", Alloc: Alloc6, Run: data})
	t.RegisterServiceAction(OpMaintenanceIn, 0x05, Op{Name: "sa", Alloc: Alloc12, Run: data})
	t.Register(0xC0, Op{Name: "vendor without length", Run: data})
	t.Register(0x28, Op{Name: "nil run"})
	return t
}

func TestTableDispatch(t *testing.T) {
	tab := echoTable()
	tests := []struct {
		name      string
		cdb       []byte
		wantLen   int
		asc       uint8 // 0: GOOD
		fieldByte int
		fieldBit  int
	}{
		{"allocation trims", []byte{0x1A, 0, 0, 0, 10, 0}, 10, 0, 0, 0},
		{"allocation zero", []byte{0x1A, 0, 0, 0, 0, 0}, 0, 0, 0, 0},
		{"allocation larger", []byte{0x1A, 0, 0, 0, 200, 0}, 40, 0, 0, 0},
		{"longer CDB is fine", []byte{0x1A, 0, 0, 0, 3, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0}, 3, 0, 0, 0},
		{"service action", []byte{0xA3, 0x05, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0}, 20, 0, 0, 0},
		{"unknown service action", []byte{0xA3, 0x06, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0}, 0, 0x24, 1, 4},
		{"unknown opcode", []byte{0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 0x20, 0, -1},
		{"nil run is unknown", []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 0x20, 0, -1},
		{"empty CDB", nil, 0, 0x20, 0, -1},
		{"short CDB", []byte{0x1A, 0, 0, 0, 10}, 0, 0x24, 0, -1},
		{"NACA", []byte{0x1A, 0, 0, 0, 10, 0x04}, 0, 0x24, 5, 2},
		{"LINK", []byte{0x1A, 0, 0, 0, 10, 0x01}, 0, 0x24, 5, 0},
		{"vendor group needs a length", []byte{0xC0, 0, 0, 0, 0, 0}, 0, 0x24, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := &Command{CDB: tt.cdb}
			err := tab.Execute(context.Background(), cmd)
			if tt.asc == 0 {
				if err != nil || len(cmd.DataIn) != tt.wantLen {
					t.Fatalf("got %d bytes, %v; want %d bytes", len(cmd.DataIn), err, tt.wantLen)
				}
				return
			}
			s, ok := SenseOf(err)
			if !ok || s.Key != IllegalRequest || s.ASC != tt.asc || s.Field == nil || int(s.Field.Byte) != tt.fieldByte {
				t.Fatalf("err = %v, want ILLEGAL REQUEST %#x at byte %d", err, tt.asc, tt.fieldByte)
			}
			if tt.fieldBit >= 0 && (!s.Field.BitValid || int(s.Field.Bit) != tt.fieldBit) {
				t.Fatalf("err = %v, want bit %d", err, tt.fieldBit)
			}
		})
	}
	if _, ok := tab.Lookup([]byte{0xA3, 0x05}); !ok {
		t.Fatal("Lookup of a registered service action failed")
	}
}

func TestTableCancelled(t *testing.T) {
	ran := false
	tab := &Table{}
	tab.Register(0, Op{Run: func(context.Context, *Command) error { ran = true; return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := tab.Execute(ctx, &Command{CDB: make([]byte, 6)})
	if status, _ := StatusOf(err); status != StatusTaskAborted || ran {
		t.Fatalf("cancelled command: status %#x, ran %v", status, ran)
	}
}

func TestTableVariableLength(t *testing.T) {
	tab := &Table{}
	tab.RegisterServiceAction(OpVariableLength, 0x0009, Op{Run: func(context.Context, *Command) error { return nil }})
	good := make([]byte, 32)
	good[0], good[7], good[9] = 0x7F, 24, 0x09
	if err := tab.Execute(context.Background(), &Command{CDB: good}); err != nil {
		t.Fatal(err)
	}
	short := bytes.Clone(good[:20])
	if s, ok := SenseOf(tab.Execute(context.Background(), &Command{CDB: short})); !ok || s.ASC != 0x24 {
		t.Fatalf("short variable-length CDB: %v", s)
	}
	other := bytes.Clone(good)
	other[9] = 0x0A
	if s, ok := SenseOf(tab.Execute(context.Background(), &Command{CDB: other})); !ok || s.Field == nil || s.Field.Byte != 8 {
		t.Fatalf("unknown variable-length service action: %v", s)
	}
}

func TestCDBHelpers(t *testing.T) {
	lengths := map[byte]int{0x00: 6, 0x12: 6, 0x28: 10, 0x5A: 10, 0x7F: 0, 0x88: 16, 0xA0: 12, 0xB8: 12, 0xC0: 0, 0xE0: 0}
	for op, want := range lengths {
		if got := CDBLength(op); got != want {
			t.Errorf("CDBLength(%#x) = %d, want %d", op, got, want)
		}
	}
	allocs := []struct {
		cdb  []byte
		want uint32
		ok   bool
	}{
		{[]byte{0x12, 1, 0x83, 0x01, 0x02, 0}, 0x0102, true},
		{[]byte{0x03, 0, 0, 0, 0xFC, 0}, 0xFC, true},
		{[]byte{0x5A, 0, 0x3F, 0, 0, 0, 0, 0x12, 0x34, 0}, 0x1234, true},
		{[]byte{0xA0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0, 0}, 0x01020304, true},
		{[]byte{0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0}, 0x20, true},
		{[]byte{0x5A, 0, 0x3F}, 0, false},
		{[]byte{0x7F, 0, 0, 0, 0, 0, 0, 0x18}, 0, false},
	}
	for _, a := range allocs {
		got, ok := AllocationLength(a.cdb)
		if got != a.want || ok != a.ok {
			t.Errorf("AllocationLength(% x) = %d, %v; want %d, %v", a.cdb, got, ok, a.want, a.ok)
		}
	}
	if sa := ServiceAction([]byte{0x9E, 0xF0}); sa != 0x10 {
		t.Errorf("ServiceAction = %#x", sa)
	}
	if got := (Field{7, 3}).Get([]byte{0xB8, 0, 0, 0, 0, 0, 0, 0x01, 0x02}); got != 0x010200 {
		t.Errorf("Field past the end = %#x, want 0x010200", got)
	}
	if _, err := ParameterList(&Command{DataOut: []byte{1, 2}}, 3); !errorsIsSense(err, ParameterListLengthError()) {
		t.Errorf("short parameter list: %v", err)
	}
}

func errorsIsSense(err error, want *Sense) bool {
	s, ok := SenseOf(err)
	return ok && s.Is(want)
}
