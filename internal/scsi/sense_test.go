package scsi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSenseFixedBytes(t *testing.T) {
	tests := []struct {
		name string
		s    *Sense
		want []byte
	}{
		{"invalid field in CDB byte 2 bit 5", InvalidFieldInCDB(2, 5),
			[]byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00, 0, 0xCD, 0x00, 0x02}},
		{"invalid field in parameter list byte 300, no bit", InvalidFieldInParameterList(300, -1),
			[]byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x26, 0x00, 0, 0x80, 0x01, 0x2C}},
		{"medium not present", MediumNotPresent(),
			[]byte{0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3A, 0x00, 0, 0, 0, 0}},
		{"filemark with residue", &Sense{Key: NoSense, ASCQ: 0x01, Filemark: true, Info: 512, InfoValid: true},
			[]byte{0xF0, 0, 0x80, 0, 0, 0x02, 0x00, 10, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0, 0}},
		{"EOM ILI deferred", &Sense{Key: MediumError, EOM: true, ILI: true, Deferred: true, CmdInfo: 7},
			[]byte{0x71, 0, 0x63, 0, 0, 0, 0, 10, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0}},
		{"info beyond 32 bits is not valid", &Sense{Key: IllegalRequest, Info: 1 << 40, InfoValid: true},
			[]byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Bytes(); !bytes.Equal(got, tt.want) {
				t.Fatalf("Bytes\n got % x\nwant % x", got, tt.want)
			}
		})
	}
}

func TestSenseDescriptorBytes(t *testing.T) {
	s := &Sense{Key: IllegalRequest, ASC: 0x24, Info: 0x0102030405060708, InfoValid: true,
		Field: &FieldPointer{CDB: true, Byte: 4, Bit: 1, BitValid: true}, ILI: true}
	want := []byte{
		0x72, 0x05, 0x24, 0x00, 0, 0, 0, 24,
		0x00, 0x0A, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8,
		0x02, 0x06, 0, 0, 0xC9, 0x00, 0x04, 0,
		0x04, 0x02, 0, 0x20,
	}
	got := s.DescriptorBytes()
	if !bytes.Equal(got, want) {
		t.Fatalf("DescriptorBytes\n got % x\nwant % x", got, want)
	}
	back, err := ParseSense(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseSenseRoundTrip(t *testing.T) {
	senses := []*Sense{
		InvalidOpcode(), InvalidFieldInCDB(9, 0), InvalidFieldInParameterList(3, -1),
		MediumSourceElementEmpty(), MediumDestinationElementFull(), InvalidElementAddress(4),
		MediumRemovalPrevented(), PowerOnReset(), LogicalUnitNotReady(1), WriteProtected(),
		{Key: BlankCheck, Info: 4, InfoValid: true, EOM: true},
		{Key: CopyAborted, ASC: 0x0D, ASCQ: 0x02, CmdInfo: 3, Field: &FieldPointer{Byte: 16}},
	}
	for _, s := range senses {
		for _, enc := range []func() []byte{s.Bytes, s.DescriptorBytes} {
			got, err := ParseSense(enc())
			if err != nil {
				t.Fatalf("%v: %v", s, err)
			}
			if diff := cmp.Diff(s, got); diff != "" {
				t.Errorf("%v round trip (-want +got):\n%s", s, diff)
			}
		}
	}
}

func TestParseSenseMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {0x00}, {0x7F, 1, 2}, {0x70, 0}, {0x72, 5, 0x24}} {
		if _, err := ParseSense(b); !errors.Is(err, ErrBadSense) {
			t.Errorf("ParseSense(% x) = %v, want ErrBadSense", b, err)
		}
	}
	// Truncated fixed sense keeps what is there.
	s, err := ParseSense([]byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24})
	if err != nil || s.Key != IllegalRequest || s.ASC != 0 {
		t.Fatalf("truncated: %v, %v", s, err)
	}
	// A descriptor overrunning the additional length is ignored.
	s, err = ParseSense([]byte{0x72, 5, 0x24, 0, 0, 0, 0, 4, 0x00, 0x0A, 0x80, 0})
	if err != nil || s.InfoValid {
		t.Fatalf("overrun descriptor: %+v, %v", s, err)
	}
}

func TestSenseError(t *testing.T) {
	got := InvalidFieldInCDB(2, 5).Error()
	want := "scsi: ILLEGAL REQUEST: invalid field in CDB (0x24/0x00), CDB byte 2 bit 5"
	if got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fmt.Errorf("move: %w", MediumSourceElementEmpty()), MediumSourceElementEmpty()) {
		t.Fatal("errors.Is does not match the same key/ASC/ASCQ")
	}
	if errors.Is(MediumSourceElementEmpty(), MediumDestinationElementFull()) {
		t.Fatal("errors.Is matches a different ASCQ")
	}
}

func TestStatusOf(t *testing.T) {
	hw := InternalTargetFailure().Bytes()
	tests := []struct {
		name   string
		err    error
		status byte
		sense  []byte
	}{
		{"good", nil, StatusGood, nil},
		{"sense", MediumNotPresent(), StatusCheckCondition, MediumNotPresent().Bytes()},
		{"wrapped sense", fmt.Errorf("x: %w", LBAOutOfRange()), StatusCheckCondition, LBAOutOfRange().Bytes()},
		{"busy", ErrBusy, StatusBusy, nil},
		{"reservation conflict", fmt.Errorf("pr: %w", ErrReservationConflict), StatusReservationConflict, nil},
		{"cancelled", context.Canceled, StatusTaskAborted, nil},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), StatusTaskAborted, nil},
		{"other", errors.New("disk on fire"), StatusCheckCondition, hw},
	}
	for _, tt := range tests {
		status, sense := StatusOf(tt.err)
		if status != tt.status || !bytes.Equal(sense, tt.sense) {
			t.Errorf("%s: StatusOf = %#x % x, want %#x % x", tt.name, status, sense, tt.status, tt.sense)
		}
	}
}

// FuzzParseSense checks that any bytes decode without panicking and that
// what decodes re-encodes to sense that decodes the same.
func FuzzParseSense(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSense(b)
		if err != nil {
			return
		}
		again, err := ParseSense(s.DescriptorBytes())
		if err != nil {
			t.Fatalf("own descriptor sense rejected: %v", err)
		}
		if diff := cmp.Diff(s, again); diff != "" {
			t.Fatalf("descriptor round trip (-first +second):\n%s", diff)
		}
	})
}
