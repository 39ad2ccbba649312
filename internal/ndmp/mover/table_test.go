package mover

import (
	"context"
	"testing"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// Every request in every state, v3 and v4: the error and the state after it,
// as docs/ndmp-mover.md's transition table says.
func TestEveryRequestInEveryState(t *testing.T) {
	const (
		ok = wire.ErrNone
		is = wire.ErrIllegalState
	)
	type want struct {
		err   wire.Error
		state wire.MoverState
	}
	idle, listen, active, paused, halted := wire.MoverStateIdle, wire.MoverStateListen, wire.MoverStateActive, wire.MoverStatePaused, wire.MoverStateHalted
	requests := []string{"SET_RECORD_SIZE", "SET_WINDOW", "LISTEN", "CONNECT", "READ", "CONTINUE", "CLOSE", "ABORT", "STOP"}
	table := map[wire.MoverState][]want{
		idle:   {{ok, idle}, {ok, idle}, {ok, listen}, {ok, active}, {is, idle}, {is, idle}, {is, idle}, {is, idle}, {is, idle}},
		listen: {{is, listen}, {is, listen}, {is, listen}, {is, listen}, {is, listen}, {is, listen}, {ok, halted}, {ok, halted}, {is, listen}},
		active: {{is, active}, {is, active}, {is, active}, {is, active}, {is, active}, {is, active}, {ok, halted}, {ok, halted}, {is, active}},
		paused: {{is, paused}, {ok, paused}, {is, paused}, {is, paused}, {is, paused}, {ok, active}, {ok, halted}, {ok, halted}, {is, paused}},
		halted: {{is, halted}, {is, halted}, {is, halted}, {is, halted}, {is, halted}, {is, halted}, {ok, halted}, {ok, halted}, {ok, idle}},
	}
	for _, v := range versions() {
		for _, st := range []wire.MoverState{idle, listen, active, paused, halted} {
			for i, req := range requests {
				w := table[st][i]
				if v < wire.V4 && st == listen && req == "SET_WINDOW" {
					w = want{ok, listen} // v3 sets the window after LISTEN
				}
				t.Run(vname(v)+"/"+st.String()+"/"+req, func(t *testing.T) {
					r := newRig(t, v)
					r.reach(t, st)
					wantErr(t, req, r.do(req), w.err)
					if got := r.m.GetState().State; got != w.state {
						t.Fatalf("%s in %v left the mover %v, want %v", req, st, got, w.state)
					}
				})
			}
		}
	}
}

// rig is a mover with a tape and the data side of its LOCAL link.
type rig struct {
	m    *Mover
	p    *poster
	link *dataconn.Link
	tape Tape
	data *dataconn.Conn
}

func newRig(t *testing.T, v wire.Version) *rig {
	m, p, link := newMover(t, v)
	r := &rig{m: m, p: p, link: link, tape: openTape(t, newCartridge(t, 1<<20), false)}
	t.Cleanup(func() {
		m.Shutdown()
		if r.data != nil {
			r.data.Close()
		}
	})
	m.SetRecordSize(512)
	return r
}

// reach drives the mover from IDLE to st (ACTIVE and PAUSED in mode READ).
func (r *rig) reach(t *testing.T, st wire.MoverState) {
	t.Helper()
	if st == wire.MoverStateIdle {
		return
	}
	if st == wire.MoverStatePaused {
		r.m.SetWindow(0, 0) // the first record meets the end of the window
	}
	if _, err := r.m.Listen(wire.MoverModeRead, wire.AddrLocal, r.tape); err != nil {
		t.Fatal(err)
	}
	switch st {
	case wire.MoverStateHalted:
		r.m.Abort()
		r.p.halted(t, wire.MoverHaltAborted)
	case wire.MoverStateActive, wire.MoverStatePaused:
		c, err := r.link.Connect(dataconn.Data)
		if err != nil {
			t.Fatal(err)
		}
		r.data = c
	}
	if st == wire.MoverStatePaused {
		go r.data.Write(make([]byte, 512))
		r.p.paused(t, wire.MoverPauseEOW)
	}
	wantState(t, r.m, st)
}

func (r *rig) do(req string) error {
	switch req {
	case "SET_RECORD_SIZE":
		return r.m.SetRecordSize(1024)
	case "SET_WINDOW":
		return r.m.SetWindow(0, wire.LengthInfinity)
	case "LISTEN":
		_, err := r.m.Listen(wire.MoverModeWrite, wire.AddrLocal, r.tape)
		return err
	case "CONNECT":
		r.link.Listen(dataconn.Data, func(c *dataconn.Conn) error { r.data = c; return nil })
		return r.m.Connect(context.Background(), wire.MoverModeRead, wire.Addr{Type: wire.AddrLocal}, r.tape)
	case "READ":
		return r.m.Read(0, 512)
	case "CONTINUE":
		r.m.SetWindow(0, wire.LengthInfinity) // as a DMA does before it continues
		return r.m.Continue(r.tape)
	case "CLOSE":
		return r.m.Close()
	case "ABORT":
		return r.m.Abort()
	case "STOP":
		return r.m.Stop()
	}
	panic("unknown request " + req)
}
