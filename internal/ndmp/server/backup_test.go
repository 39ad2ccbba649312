package server

import (
	"bytes"
	"context"
	"testing"
	"time"

	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
)

// patternEngine backs up a fixed byte pattern; it stands in for a real
// backup method so the test checks the session's wiring of data service,
// LOCAL link, mover and drive.
type patternEngine struct{ stream []byte }

func (e patternEngine) Backup(ctx context.Context, job *data.Job) error {
	job.SetEnv("DUMP_DATE", "42")
	for p := e.stream; len(p) > 0; {
		n, err := job.Stream.Write(p[:min(len(p), 7000)])
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (patternEngine) Recover(context.Context, *data.Job) error { return nil }

// A 2-way LOCAL backup in one session: the data service streams to the
// mover, the mover writes records through the shared tapeUnit, and the tape
// holds the stream afterwards.
func TestLocalBackupThroughSession(t *testing.T) {
	stream := make([]byte, 100_000)
	for i := range stream {
		stream[i] = byte(i * 31)
	}
	ts := newTestServer(t, func(cfg *Config) {
		cfg.Engines = map[string]data.Engine{"pattern": patternEngine{stream}}
	})
	ts.loadDrive(t, "tape0")
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	ok := func(code wire.Code, req wire.Body) {
		t.Helper()
		if e := c.callErr(code, req); e != wire.ErrNone {
			t.Fatalf("%v: %v", code, e)
		}
	}
	var bi wire.ConfigGetButypeInfoReply
	c.call(wire.CodeConfigGetButypeInfo, &wire.ConfigGetButypeInfoRequest{}, &bi)
	if len(bi.ButypeInfo) != 1 || bi.ButypeInfo[0].ButypeName != "pattern" {
		t.Fatalf("butypes %+v", bi.ButypeInfo)
	}
	if e := c.callErr(wire.CodeDataStartBackup, &wire.DataStartBackupRequest{ButypeName: "nope"}); e != wire.ErrIllegalState && e != wire.ErrIllegalArgs {
		t.Errorf("START_BACKUP in IDLE: %v", e)
	}

	const recSize = 10240
	ok(wire.CodeTapeOpen, tapeOpenReq("tape0", wire.TapeRdwrMode))
	ok(wire.CodeMoverSetRecordSize, &wire.MoverSetRecordSizeRequest{Len: recSize})
	ok(wire.CodeMoverSetWindow, &wire.MoverSetWindowRequest{Offset: 0, Length: wire.LengthInfinity})
	var lr wire.MoverListenReply
	c.call(wire.CodeMoverListen, &wire.MoverListenRequest{Mode: wire.MoverModeRead, AddrType: wire.AddrLocal}, &lr)
	if lr.Error != wire.ErrNone || lr.ConnectAddr.Type != wire.AddrLocal {
		t.Fatalf("MOVER_LISTEN(LOCAL): %+v", lr)
	}
	ok(wire.CodeDataConnect, &wire.DataConnectRequest{Addr: wire.Addr{Type: wire.AddrLocal}})
	ok(wire.CodeDataStartBackup, &wire.DataStartBackupRequest{ButypeName: "pattern", Env: []wire.PVal{{Name: "FILESYSTEM", Value: ts.export}}})

	var ds wire.DataGetStateReply
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.call(wire.CodeDataGetState, &wire.DataGetStateRequest{}, &ds)
		if ds.State == wire.DataStateHalted || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ds.State != wire.DataStateHalted || ds.HaltReason != wire.DataHaltSuccessful || ds.BytesProcessed != uint64(len(stream)) {
		t.Fatalf("data state %v %v bytes %d", ds.State, ds.HaltReason, ds.BytesProcessed)
	}
	var env wire.DataGetEnvReply
	c.call(wire.CodeDataGetEnv, &wire.DataGetEnvRequest{}, &env)
	if env.Error != wire.ErrNone || !hasPVal(env.Env, "DUMP_DATE", "42") {
		t.Errorf("DATA_GET_ENV %+v", env)
	}
	var ms wire.MoverGetStateReply
	for {
		c.call(wire.CodeMoverGetState, &wire.MoverGetStateRequest{}, &ms)
		if ms.State == wire.MoverStateHalted || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ms.State != wire.MoverStateHalted || ms.BytesMoved != uint64(len(stream)) {
		t.Fatalf("mover state %v %v moved %d", ms.State, ms.HaltReason, ms.BytesMoved)
	}
	ok(wire.CodeDataStop, &wire.DataStopRequest{})
	ok(wire.CodeMoverStop, &wire.MoverStopRequest{})
	var st wire.TapeGetStateReply
	c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st)
	wantRecs := uint32((len(stream) + recSize - 1) / recSize)
	if st.FileNum != 0 || st.Blockno != wantRecs {
		t.Errorf("tape after backup: file %d block %d, want 0 %d", st.FileNum, st.Blockno, wantRecs)
	}
	ok(wire.CodeTapeClose, &wire.TapeCloseRequest{}) // writes the implicit filemark

	// Read it back through the TAPE service.
	ok(wire.CodeTapeOpen, tapeOpenReq("tape0", wire.TapeReadMode))
	var got []byte
	for {
		var rr wire.TapeReadReply
		c.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: recSize}, &rr)
		if rr.Error == wire.ErrEOF {
			break
		}
		if rr.Error != wire.ErrNone || len(rr.DataIn) != recSize {
			t.Fatalf("read back: %v, %d bytes", rr.Error, len(rr.DataIn))
		}
		got = append(got, rr.DataIn...)
	}
	if !bytes.Equal(got[:len(stream)], stream) || len(got) != int(wantRecs)*recSize {
		t.Errorf("tape holds %d bytes, stream mismatch", len(got))
	}
	var halts int
	for _, h := range c.posts {
		if h.Code == wire.CodeNotifyDataHalted || h.Code == wire.CodeNotifyMoverHalted {
			halts++
		}
	}
	if halts != 2 {
		t.Errorf("got %d NOTIFY_*_HALTED posts, want 2: %v", halts, c.posts)
	}
}

func hasPVal(env []wire.PVal, name, value string) bool {
	for _, p := range env {
		if p.Name == name && p.Value == value {
			return true
		}
	}
	return false
}
