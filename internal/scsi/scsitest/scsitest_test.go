package scsitest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"ferry/internal/scsi"
)

// recorder is a testing.TB that records failures instead of failing, so
// the harness itself can be tested against broken devices.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any)    { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r *recorder) Skip(...any)          { runtime.Goexit() }
func (r *recorder) Skipf(string, ...any) { runtime.Goexit() }
func (r *recorder) Failed() bool         { return len(r.failures) > 0 }
func (r *recorder) Log(...any)           {}
func (r *recorder) Logf(string, ...any)  {}
func (r *recorder) SkipNow()             { runtime.Goexit() }
func (r *recorder) FailNow()             { runtime.Goexit() }
func (r *recorder) Fail()                { r.Errorf("Fail") }

// failingChecks runs every check on dev and returns the names of those
// that reported a failure.
func failingChecks(t *testing.T, dev scsi.Device, e Expect) []string {
	var failed []string
	for _, c := range checks() {
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.run(r, dev, e)
		}()
		<-done
		if r.Failed() {
			failed = append(failed, c.name)
		}
	}
	return failed
}

func goodDevice() *scsi.Table {
	return scsi.NewTable(&scsi.Inquiry{
		Type:     scsi.DirectAccess,
		Identity: scsi.Identity{Vendor: "FERRY", Product: "GOOD", Revision: "1", Serial: "S1"},
	})
}

// TestHarnessCatchesBrokenDevices shows the harness can fail: each broken
// device trips the check meant for its defect, and a good device trips
// none.
func TestHarnessCatchesBrokenDevices(t *testing.T) {
	expect := Expect{Type: scsi.DirectAccess, Vendor: "FERRY", Product: "GOOD", Serial: "S1"}
	good := goodDevice()
	tests := []struct {
		name string
		dev  scsi.Device
		e    Expect
		want string // a check that must fail; "" for none
	}{
		{"good", good, expect, ""},
		{"wrong device type", good, Expect{Type: scsi.SequentialAccess}, "StandardInquiry"},
		{"ignores allocation length", scsi.DeviceFunc(func(ctx context.Context, cmd *scsi.Command) error {
			c := &scsi.Command{CDB: slices.Clone(cmd.CDB)}
			if scsi.Opcode(c.CDB) == scsi.OpInquiry && len(c.CDB) >= 5 {
				c.CDB[3], c.CDB[4] = 0xFF, 0xFF
			}
			err := good.Execute(ctx, c)
			cmd.DataIn = c.DataIn
			return err
		}), expect, "AllocationLength"},
		{"accepts unknown opcodes", scsi.DeviceFunc(func(ctx context.Context, cmd *scsi.Command) error {
			if scsi.Opcode(cmd.CDB) == 0xE7 {
				return nil
			}
			return good.Execute(ctx, cmd)
		}), expect, "UnknownOpcode"},
		{"bad additional length", scsi.DeviceFunc(func(ctx context.Context, cmd *scsi.Command) error {
			err := good.Execute(ctx, cmd)
			if scsi.Opcode(cmd.CDB) == scsi.OpInquiry && cmd.CDB[1] == 0 && len(cmd.DataIn) > 4 {
				cmd.DataIn[4] = 31
			}
			return err
		}), expect, "StandardInquiry"},
		{"no field pointer", scsi.DeviceFunc(func(ctx context.Context, cmd *scsi.Command) error {
			err := good.Execute(ctx, cmd)
			if s, ok := scsi.SenseOf(err); ok {
				s.Field = nil
			}
			return err
		}), expect, "InquiryFieldChecks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed := failingChecks(t, tt.dev, tt.e)
			if tt.want == "" && len(failed) > 0 {
				t.Fatalf("a good device fails %v", failed)
			}
			if tt.want != "" && !slices.Contains(failed, tt.want) {
				t.Fatalf("failing checks %v, want %s among them", failed, tt.want)
			}
		})
	}
}
