package target

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"ferry/internal/changer"
	"ferry/internal/iscsi"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi"
)

// loadTape puts a cartridge in the drive behind LUN 1, dials a session and
// clears its unit attention.
func loadTape(t testing.TB, h *harness) *initiator.Session {
	t.Helper()
	loadDrive(t, h)
	s, err := initiator.Dial(testCtx(t), h.addr, initiator.Config{TargetName: testIQN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Execute(testCtx(t), 1, make([]byte, 6), nil, 0) // the unit attention
	return s
}

// loadDrive puts a cartridge in the drive behind LUN 1.
func loadDrive(t testing.TB, h *harness) {
	t.Helper()
	els, err := h.lib.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var slot, drive uint16
	loaded := false
	for _, e := range els {
		switch {
		case e.Type == changer.Storage && e.Full && slot == 0:
			slot = e.Address
		case e.Type == changer.DataTransfer && e.Drive == h.lib.DriveNames()[0]:
			drive, loaded = e.Address, e.Full
		}
	}
	if !loaded {
		if err := h.lib.Move(slot, drive); err != nil {
			t.Fatal(err)
		}
	}
}

// orderSizes mixes records that fit in immediate data with ones that
// need R2Ts, so later small commands have their data long before earlier
// large ones.
var orderSizes = []int{1 << 20, 512, 300 << 10, 4096, 700 << 10, 64 << 10, 2 << 20, 100}

// TestOrderedWrites starts many WRITEs from several goroutines, each
// stamping its record with the next sequence number and starting it under
// one lock (so sequence order is CmdSN order), keeps them in flight
// together, and reads the tape back: the records must follow CmdSN order,
// each whole.
func TestOrderedWrites(t *testing.T) {
	h := start(t, nil)
	s := loadTape(t, h)
	ctx := testCtx(t)
	const writers, each = 8, 24
	var (
		mu    sync.Mutex
		seq   uint32
		last  uint32
		sizes []int // by sequence number
		wg    sync.WaitGroup
	)
	errs := make(chan error, writers*each+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := orderSizes[(w+i*3)%len(orderSizes)]
				data := make([]byte, n)
				mu.Lock()
				stamp(data, seq)
				p, err := s.Start(ctx, 1, write6(n), data, nil)
				if err == nil {
					if seq > 0 && p.CmdSN() != last+1 {
						errs <- fmt.Errorf("CmdSN %d after %d", p.CmdSN(), last)
					}
					last = p.CmdSN()
					seq++
					sizes = append(sizes, n)
				}
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
				if r, err := p.Wait(ctx); err != nil || r.Status != 0 {
					errs <- fmt.Errorf("WRITE: %v %+v", err, r)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkTape(t, s, sizes)
}

// stamp fills a record with its sequence number, so a reader can tell
// records apart and see a torn one.
func stamp(data []byte, seq uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], seq)
	for i := range data {
		data[i] = b[i%4] ^ byte(i/4)
	}
}

// checkTape checks the tape holds the records stamped 0, 1, ... of the
// sizes, and nothing more.
func checkTape(t *testing.T, s *initiator.Session, sizes []int) {
	t.Helper()
	stamps := make([]uint32, len(sizes))
	for i := range stamps {
		stamps[i] = uint32(i)
	}
	checkTapeStamps(t, s, sizes, stamps)
}

// checkTapeStamps rewinds and reads every record back: record i must be
// stamps[i], sizes[i] bytes long, and then the end of data.
func checkTapeStamps(t *testing.T, s *initiator.Session, sizes []int, stamps []uint32) {
	t.Helper()
	ctx := testCtx(t)
	if r, err := s.Execute(ctx, 1, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0); err != nil || r.Status != 0 {
		t.Fatalf("REWIND: %v %+v", err, r)
	}
	const max = 4 << 20
	buf := make([]byte, max)
	want := make([]byte, max)
	read6 := []byte{0x08, 0, max >> 16, 0, 0, 0}
	for i, n := range sizes {
		r, err := s.ExecuteInto(ctx, 1, read6, nil, buf)
		if err != nil {
			t.Fatalf("READ %d: %v", i, err)
		}
		stamp(want[:n], stamps[i])
		if len(r.Data) != n || !bytes.Equal(r.Data, want[:n]) {
			got := uint32(0)
			if len(r.Data) >= 4 {
				got = binary.BigEndian.Uint32(r.Data)
			}
			t.Fatalf("record %d: %d bytes stamped %d, want %d bytes stamped %d", i, len(r.Data), got, n, stamps[i])
		}
	}
	r, err := s.ExecuteInto(ctx, 1, read6, nil, buf)
	if err != nil || r.Status != scsi.StatusCheckCondition {
		t.Fatalf("READ past the last record: %v %+v, want end of data", err, r)
	}
}

// TestOrderedAbort queues two WRITEs behind one whose data is held back
// (it waits for an R2T's Data-Out), aborts the first of them, then sends
// the data: the aborted record never reaches the tape; the other two do,
// in CmdSN order.
func TestOrderedAbort(t *testing.T) {
	h := start(t, nil)
	loadDrive(t, h)
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute))
	nc.Write(loginPrefix())
	rh, in := new(iscsi.BHS), make([]byte, 64<<10)
	if err := readRaw(nc, rh, in); err != nil {
		t.Fatal(err)
	}
	sn := iscsi.DecodeLoginResp(rh).ExpCmdSN
	w := iscsi.NewWriter(nc)
	lun := [8]byte{0, 1}
	command := func(cdb [16]byte, expected int, imm []byte) uint32 {
		var b iscsi.BHS
		(&iscsi.SCSICommand{Final: true, Write: expected > 0, Attr: 1, LUN: lun,
			ExpectedLen: uint32(expected), ITT: sn, CmdSN: sn, CDB: cdb}).Encode(&b)
		w.Write(&b, imm)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		sn++
		return sn - 1
	}
	expect := func(op iscsi.Opcode) {
		t.Helper()
		if err := readRaw(nc, rh, in); err != nil {
			t.Fatal(err)
		}
		if rh.Opcode() != op {
			t.Fatalf("got opcode %#x, want %#x", rh.Opcode(), op)
		}
	}
	command([16]byte{}, 0, nil) // TEST UNIT READY takes the unit attention
	expect(iscsi.OpSCSIResponse)
	big, small := make([]byte, 8192), make([]byte, 4096)
	cdb := func(n int) [16]byte { return [16]byte{0x0A, 0, 0, byte(n >> 8), byte(n)} }
	a := command(cdb(len(big)), len(big), nil) // InitialR2T=Yes: waits for an R2T
	expect(iscsi.OpR2T)
	r2t := iscsi.DecodeR2T(rh)
	stamp(small, 1)
	b := command(cdb(len(small)), len(small), small)
	stamp(small, 2)
	command(cdb(len(small)), len(small), small)
	var tb iscsi.BHS
	(&iscsi.TaskMgmt{Immediate: true, Function: iscsi.TMFAbortTask, LUN: lun, ITT: 0x10000,
		RTT: b, CmdSN: sn, RefCmdSN: b}).Encode(&tb)
	w.Write(&tb, nil)
	w.Flush()
	expect(iscsi.OpTaskMgmtResp)
	if resp := iscsi.DecodeTaskMgmtResp(rh).Response; resp != iscsi.TMFComplete {
		t.Fatalf("ABORT TASK: response %d", resp)
	}
	stamp(big, 0)
	var db iscsi.BHS
	(&iscsi.DataOut{Final: true, LUN: lun, ITT: a, TTT: r2t.TTT}).Encode(&db)
	w.Write(&db, big)
	w.Flush()
	for range 2 {
		expect(iscsi.OpSCSIResponse)
		if r := iscsi.DecodeSCSIResponse(rh); r.Status != 0 {
			t.Fatalf("WRITE: %+v", r)
		}
	}
	s := loadTape(t, h)
	checkTapeStamps(t, s, []int{len(big), len(small)}, []uint32{0, 2})
}

// TestBigPDUDigests sends data segments large enough for the initiator's
// writev path, with both digests and with lengths that need padding, to
// a disk and a tape LU, and reads them back.
func TestBigPDUDigests(t *testing.T) {
	h := start(t, nil)
	loadDrive(t, h)
	s := h.dial(initiator.Config{HeaderDigest: true, DataDigest: true})
	ctx := testCtx(t)
	s.Execute(ctx, 1, make([]byte, 6), nil, 0) // the tape's unit attention
	disk := make([]byte, 600*512)              // immediate data, then an R2T
	stamp(disk, 7)
	if r, err := s.Execute(ctx, 5, write10(3, 600), disk, 0); err != nil || r.Status != 0 {
		t.Fatalf("disk write: %v %+v", err, r)
	}
	r, err := s.Execute(ctx, 5, read10(3, 600), nil, len(disk))
	if err != nil || r.Status != 0 || !bytes.Equal(r.Data, disk) {
		t.Fatalf("disk read back: %v %+v", err, r != nil && bytes.Equal(r.Data, disk))
	}
	sizes := []int{40001, 70003, 300 << 10}
	for i, n := range sizes {
		data := make([]byte, n)
		stamp(data, uint32(i))
		if r, err := s.Execute(ctx, 1, write6(n), data, 0); err != nil || r.Status != 0 {
			t.Fatalf("tape write %d: %v %+v", n, err, r)
		}
	}
	checkTape(t, s, sizes)
}

// TestOrderedAcrossConnections sends a tape WRITE with CmdSN n+1 on one
// connection of a session before the WRITE with CmdSN n arrives on the
// other: n+1 must wait for the gap to fill, and n lands first.
func TestOrderedAcrossConnections(t *testing.T) {
	h := start(t, nil)
	loadDrive(t, h)
	isid := [6]byte{0x80, 0, 0, 0, 0, 7}
	a := h.raw()
	lr := a.login(isid, 0, 1, 10)
	b := h.raw()
	if lr2 := b.login(isid, lr.TSIH, 2, 10); lr2.StatusClass != 0 {
		t.Fatalf("second connection: %+v", lr2)
	}
	write := func(c *rawConn, itt, sn uint32, data []byte) {
		var hd iscsi.BHS
		(&iscsi.SCSICommand{Final: true, Write: true, Attr: 1, LUN: [8]byte{0, 1}, ITT: itt,
			CmdSN: sn, ExpectedLen: uint32(len(data)), CDB: [16]byte(append(write6(len(data)), make([]byte, 10)...))}).Encode(&hd)
		c.send(&hd, data)
	}
	var tur iscsi.BHS // the unit attention, on connection a
	(&iscsi.SCSICommand{Final: true, Attr: 1, LUN: [8]byte{0, 1}, ITT: 1, CmdSN: 10}).Encode(&tur)
	a.send(&tur, nil)
	a.recv()
	first, second := make([]byte, 1000), make([]byte, 2000)
	stamp(first, 0)
	stamp(second, 1)
	write(a, 2, 12, second) // ahead: CmdSN 11 has not come
	// Give the target time to take CmdSN 12 first; the order on the tape
	// must not depend on it either way.
	time.Sleep(50 * time.Millisecond)
	write(b, 3, 11, first)
	for _, c := range []*rawConn{b, a} {
		p := c.recv()
		if r := iscsi.DecodeSCSIResponse(&p.BHS); p.BHS.Opcode() != iscsi.OpSCSIResponse || r.Status != 0 {
			t.Fatalf("WRITE: %v %+v", p.BHS.Opcode(), r)
		}
	}
	s := loadTape(t, h)
	checkTape(t, s, []int{len(first), len(second)})
}
