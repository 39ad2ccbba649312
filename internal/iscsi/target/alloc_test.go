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
