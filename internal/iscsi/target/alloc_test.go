package target

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"ferry/internal/iscsi"
)

// TestReadPathAllocs pins the READ path at zero allocations per command
// once warm: the target reuses its task, its Data-In buffer (lent to the
// device as scsi.Command.Buffer) and its header scratch. A raw client that
// allocates nothing itself sends READ(10) of 8 blocks and reads the
// phase-collapsed Data-In.
func TestReadPathAllocs(t *testing.T) {
	h := start(t, nil)
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := nc.Write(loginPrefix()); err != nil {
		t.Fatal(err)
	}
	var resp [iscsi.BHSLen]byte
	if _, err := io.ReadFull(nc, resp[:]); err != nil {
		t.Fatal(err)
	}
	var rh iscsi.BHS = resp
	lr := iscsi.DecodeLoginResp(&rh)
	if lr.StatusClass != 0 || !lr.Transit {
		t.Fatalf("login: %+v", lr)
	}
	if _, err := io.CopyN(io.Discard, nc, int64((rh.DataLen()+3)&^3)); err != nil {
		t.Fatal(err)
	}
	var cmd iscsi.BHS
	(&iscsi.SCSICommand{Final: true, Read: true, Attr: 1, LUN: [8]byte{0, 5}, ExpectedLen: 4096,
		CmdSN: lr.ExpCmdSN, CDB: [16]byte{0x28, 0, 0, 0, 0, 0, 0, 0, 8}}).Encode(&cmd)
	in := make([]byte, iscsi.BHSLen+4096)
	sn := lr.ExpCmdSN
	var fail error
	read := func() {
		binary.BigEndian.PutUint32(cmd[16:], sn) // ITT
		binary.BigEndian.PutUint32(cmd[24:], sn) // CmdSN
		sn++
		if _, err := nc.Write(cmd[:]); err != nil {
			fail = err
			return
		}
		if _, err := io.ReadFull(nc, in); err != nil {
			fail = err
			return
		}
		if iscsi.Opcode(in[0]&0x3F) != iscsi.OpDataIn || in[1]&0x01 == 0 || in[3] != 0 {
			fail = io.ErrUnexpectedEOF
		}
	}
	for range 100 {
		read()
	}
	allocs := testing.AllocsPerRun(1000, read)
	if fail != nil {
		t.Fatal(fail)
	}
	if allocs > 0 {
		t.Errorf("READ path: %.2f allocations per command, want 0", allocs)
	}
}

// TestOrderedWriteAllocs pins the ordered (tape) WRITE path at zero
// allocations per command once warm, with four WRITE(6) commands in
// flight at a time so they wait in the unit's queue: a raw client sends
// them with immediate data and reads the four SCSI Responses.
func TestOrderedWriteAllocs(t *testing.T) {
	h := start(t, nil)
	loadDrive(t, h)
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := nc.Write(loginPrefix()); err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 64<<10)
	rh := new(iscsi.BHS)
	err = readRaw(nc, rh, in)
	if err != nil {
		t.Fatal(err)
	}
	lr := iscsi.DecodeLoginResp(rh)
	if lr.StatusClass != 0 || !lr.Transit {
		t.Fatalf("login: %+v", lr)
	}
	const n, depth = 4096, 4
	sn := lr.ExpCmdSN
	b := make([]byte, iscsi.BHSLen)
	var hdr iscsi.BHS
	send := func(cdb [16]byte, data []byte) error {
		(&iscsi.SCSICommand{Final: true, Write: len(data) > 0, Attr: 1, LUN: [8]byte{0, 1},
			ExpectedLen: uint32(len(data)), ITT: sn, CmdSN: sn, CDB: cdb}).Encode(&hdr)
		sn++
		copy(b, hdr[:])
		binary.BigEndian.PutUint32(b[4:], uint32(len(data))) // TotalAHSLength 0, DataSegmentLength
		if _, err := nc.Write(b); err != nil {
			return err
		}
		_, err := nc.Write(data)
		return err
	}
	send([16]byte{}, nil) // TEST UNIT READY takes the unit attention
	if err := readRaw(nc, rh, in); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n)
	var fail error
	batch := func() {
		for range depth {
			if err := send([16]byte{0x0A, 0, 0, n >> 8, 0}, data); err != nil {
				fail = err
				return
			}
		}
		for range depth {
			if err := readRaw(nc, rh, in); err != nil {
				fail = err
				return
			}
			if rh.Opcode() != iscsi.OpSCSIResponse || rh[3] != 0 {
				fail = io.ErrUnexpectedEOF
			}
		}
	}
	for range 50 {
		batch()
	}
	allocs := testing.AllocsPerRun(500, batch)
	if fail != nil {
		t.Fatal(fail)
	}
	if allocs > 0 {
		t.Errorf("ordered WRITE path: %.2f allocations per %d commands, want 0", allocs, depth)
	}
}

// readRaw reads one PDU: its header into h, its data segment into buf.
func readRaw(nc net.Conn, h *iscsi.BHS, buf []byte) error {
	if _, err := io.ReadFull(nc, h[:]); err != nil {
		return err
	}
	n := (h.DataLen() + 3) &^ 3
	if n > len(buf) {
		return io.ErrShortBuffer
	}
	_, err := io.ReadFull(nc, buf[:n])
	return err
}
