package target

import (
	"context"
	"errors"
	"testing"
	"time"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi"
)

// blockingDevice holds TEST UNIT READY until released or cancelled, and
// reports what ended it.
type blockingDevice struct {
	started  chan struct{}
	release  chan struct{}
	canceled chan struct{}
}

func newBlockingDevice() *blockingDevice {
	return &blockingDevice{started: make(chan struct{}, 8), release: make(chan struct{}), canceled: make(chan struct{}, 8)}
}

func (d *blockingDevice) Execute(ctx context.Context, cmd *scsi.Command) error {
	if cmd.CDB[0] != 0 {
		return scsi.InvalidOpcode()
	}
	d.started <- struct{}{}
	select {
	case <-d.release:
		return nil
	case <-ctx.Done():
		d.canceled <- struct{}{}
		return ctx.Err()
	}
}

// TestAbortRunningTask cancels a command in the initiator: it sends ABORT
// TASK, the target cancels the device's context and sends no answer for
// the task, and the session goes on.
func TestAbortRunningTask(t *testing.T) {
	h := start(t, nil)
	dev := newBlockingDevice()
	h.units.Set(9, dev)
	s := h.dial(initiator.Config{})
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := s.Execute(ctx, 9, make([]byte, 6), nil, 0)
		done <- err
	}()
	<-dev.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Execute: %v", err)
	}
	select {
	case <-dev.canceled:
	case <-time.After(30 * time.Second):
		t.Fatal("the device's context was not cancelled")
	}
	if err := s.Ping(testCtx(t), []byte("after abort")); err != nil {
		t.Errorf("session after abort: %v", err)
	}
}

// TestLUNResetEndsCommands: a LUN reset from one session ends a command
// of another, which its initiator sees as aborted.
func TestLUNResetEndsCommands(t *testing.T) {
	h := start(t, nil)
	dev := newBlockingDevice()
	h.units.Set(9, dev)
	a, b := h.dial(initiator.Config{}), h.dial(initiator.Config{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Execute(testCtx(t), 9, make([]byte, 6), nil, 0)
		done <- err
	}()
	<-dev.started
	resp, err := a.TaskMgmt(testCtx(t), 5 /* LUN RESET */, 9, 0xFFFFFFFF)
	if err != nil || resp != 0 {
		t.Fatalf("LUN reset: %d %v", resp, err)
	}
	if err := <-done; !errors.Is(err, initiator.ErrAborted) {
		t.Errorf("command under reset: %v", err)
	}
	<-dev.canceled
	// The other session sees the reset as a unit attention on that LU.
	close(dev.release)
	r, err := b.Execute(testCtx(t), 9, make([]byte, 6), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sense, _ := scsi.ParseSense(r.Sense); sense == nil || sense.ASC != 0x29 || sense.ASCQ != 0x03 {
		t.Errorf("other session after LUN reset: %+v", r)
	}
}

// TestShutdownAnswersRunningCommands: Shutdown lets a running command
// answer before the connection closes.
func TestShutdownAnswersRunningCommands(t *testing.T) {
	h := start(t, nil)
	dev := newBlockingDevice()
	h.units.Set(9, dev)
	s, err := initiator.Dial(testCtx(t), h.addr, initiator.Config{TargetName: testIQN})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	result := make(chan *initiator.Result, 1)
	go func() {
		r, _ := s.Execute(testCtx(t), 9, make([]byte, 6), nil, 0)
		result <- r
	}()
	<-dev.started
	shut := make(chan error, 1)
	go func() { shut <- h.tgt.Shutdown(testCtx(t)) }()
	time.Sleep(50 * time.Millisecond) // let Shutdown reach its wait
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned while a command ran: %v", err)
	default:
	}
	close(dev.release)
	if r := <-result; r == nil || r.Status != 0 {
		t.Errorf("running command: %+v", r)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case <-s.Done():
		if s.Err() == nil {
			t.Error("ended session has no error")
		}
	case <-time.After(30 * time.Second):
		t.Error("the initiator did not see the connection end")
	}
}
