package mover

import (
	"bytes"
	"net"
	"testing"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// A LOCAL backup writes records from the pipe's own memory (Peek): records
// that lie whole in the pipe, records that wrap around its end, records
// larger than the pipe (read by copy), across an end of window that holds
// a peeked record while paused, end on tape as the stream sent in place
// (Grant/Commit), the last record zero-padded.
func TestLocalBackupRecordsFromThePipe(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pipe, rs int
	}{
		{"whole records", 4096, 1024},
		{"wrapping records", 4000, 1024},
		{"records larger than the pipe", 1000, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPoster()
			link := dataconn.NewLink(tc.pipe)
			m := New(Config{Version: wire.V4, Notify: p.notify, ListenIP: net.IPv4(127, 0, 0, 1), Link: link})
			t.Cleanup(m.Shutdown)
			rs := tc.rs
			tp := openTape(t, newCartridge(t, 8<<20), false)
			data := stream(20*rs + 300)
			wantErr(t, "SET_RECORD_SIZE", m.SetRecordSize(uint32(rs)), wire.ErrNone)
			wantErr(t, "SET_WINDOW", m.SetWindow(0, 7*uint64(rs)), wire.ErrNone)
			if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
				t.Fatal(err)
			}
			c, err := link.Connect(dataconn.Data)
			if err != nil {
				t.Fatal(err)
			}
			sent := make(chan error, 1)
			go func() {
				defer c.Close()
				for rest := data; len(rest) > 0; {
					g, err := c.Grant()
					if err != nil {
						sent <- err
						return
					}
					g = append(g, rest[:min(len(rest), cap(g))]...)
					rest = rest[len(g):]
					if err := c.Commit(len(g)); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			p.paused(t, wire.MoverPauseEOW)
			if s := m.GetState(); s.BytesMoved != 7*uint64(rs) || s.RecordNum != 7 {
				t.Fatalf("at EOW: %+v", s)
			}
			tp.M.WriteFilemarks(1)
			wantErr(t, "SET_WINDOW max", m.SetWindow(7*uint64(rs), wire.LengthInfinity-7*uint64(rs)), wire.ErrNone)
			wantErr(t, "CONTINUE", m.Continue(tp), wire.ErrNone)
			p.halted(t, wire.MoverHaltConnectClosed)
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			if s := m.GetState(); s.BytesMoved != uint64(len(data)) || s.RecordNum != 21 {
				t.Fatalf("at the end: %+v", s)
			}
			var image []byte
			for i, rec := range readBack(t, tp, rs) {
				if rec == nil {
					continue
				}
				if len(rec) != rs {
					t.Fatalf("object %d is %d bytes, want %d", i, len(rec), rs)
				}
				image = append(image, rec...)
			}
			if !bytes.Equal(image, padded(data, rs)) {
				t.Fatal("tape image differs from the stream")
			}
		})
	}
}
