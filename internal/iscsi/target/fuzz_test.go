package target

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
)

// loginPrefix is a valid leading login request straight to full feature
// phase, so fuzzed bytes after it reach the full feature phase handlers.
func loginPrefix() []byte {
	var h iscsi.BHS
	(&iscsi.LoginReq{Transit: true, CSG: iscsi.StageOperational, NSG: iscsi.StageFullFeature,
		ISID: [6]byte{0x80, 9}, ITT: 1}).Encode(&h)
	text := iscsi.AppendText(nil, iscsi.KV{Key: "InitiatorName", Value: "iqn.2026-01.dev.ferry:fuzz"},
		iscsi.KV{Key: "TargetName", Value: testIQN}, iscsi.KV{Key: "MaxRecvDataSegmentLength", Value: "4096"})
	var b bytes.Buffer
	w := iscsi.NewWriter(&b)
	w.Write(&h, text)
	w.Flush()
	return b.Bytes()
}

// FuzzTargetConn sends fuzzed bytes over a socket, as the first PDUs of a
// connection or after a good login, while another session keeps working:
// the target must not crash, and the other session must still answer.
func FuzzTargetConn(f *testing.F) {
	var h iscsi.BHS
	(&iscsi.SCSICommand{Final: true, Write: true, ITT: 2, ExpectedLen: 4096, CDB: [16]byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 8}, LUN: [8]byte{0, 5}}).Encode(&h)
	f.Add(append([]byte(nil), h[:]...), true)
	(&iscsi.TaskMgmt{Immediate: true, Function: iscsi.TMFLUNReset, LUN: [8]byte{0, 5}, ITT: 3}).Encode(&h)
	f.Add(append([]byte(nil), h[:]...), true)
	f.Add(loginPrefix(), false)
	hs := startShared(f)
	dial := func(tb testing.TB) *initiator.Session {
		s, err := initiator.Dial(context.Background(), hs.addr, initiator.Config{TargetName: testIQN})
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	good := dial(f)
	f.Cleanup(func() { good.Close() })
	resets := hs.tgt.coldResets.Load()
	f.Fuzz(func(t *testing.T, b []byte, afterLogin bool) {
		nc, err := net.Dial("tcp", hs.addr)
		if err != nil {
			t.Fatal(err)
		}
		if afterLogin {
			nc.Write(loginPrefix())
		}
		nc.SetDeadline(time.Now().Add(2 * time.Second))
		nc.Write(b)
		nc.(*net.TCPConn).CloseWrite()
		buf := make([]byte, 4096)
		for {
			if _, err := nc.Read(buf); err != nil {
				break
			}
		}
		nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = good.Ping(ctx, []byte("still there"))
		if n := hs.tgt.coldResets.Load(); n != resets {
			// A fuzzed TARGET COLD RESET ends every session, as it must.
			resets = n
			good.Close()
			good = dial(t)
			return
		}
		if err != nil {
			t.Fatalf("other session disturbed: %v", err)
		}
	})
}

// startShared is start for a fuzz target, whose harness lives as long as
// the fuzzing run.
func startShared(f *testing.F) *harness {
	dir := f.TempDir()
	if _, err := disk.Create(dir, "fuzz", 1<<20, disk.Options{}); err != nil {
		f.Fatal(err)
	}
	d, err := disk.Open(dir, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })
	u := scsi.NewLUs()
	u.Set(5, sbc.New(d, sbc.Identity{}))
	tgt, err := New(Config{Name: testIQN, Units: u})
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go tgt.Serve(ln)
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tgt.Shutdown(ctx)
	})
	return &harness{tgt: tgt, addr: ln.Addr().String(), units: u}
}
