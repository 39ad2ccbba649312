package data

import (
	"context"
	"testing"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// blockingEngine runs until DATA_ABORT cancels it.
type blockingEngine struct{}

func (blockingEngine) Backup(ctx context.Context, _ *Job) error {
	<-ctx.Done()
	return ctx.Err()
}

func (blockingEngine) Recover(ctx context.Context, _ *Job) error {
	<-ctx.Done()
	return ctx.Err()
}

// Every request in every state, v3 and v4: the error and the state after it,
// as docs/ndmp-data.md's transition table says.
func TestEveryRequestInEveryState(t *testing.T) {
	const (
		ok = wire.ErrNone
		is = wire.ErrIllegalState
	)
	type want struct {
		err   wire.Error
		state wire.DataState
	}
	idle, listen, connected, active, halted := wire.DataStateIdle, wire.DataStateListen, wire.DataStateConnected, wire.DataStateActive, wire.DataStateHalted
	requests := []string{"LISTEN", "CONNECT", "START_BACKUP", "START_RECOVER", "START_RECOVER_FILEHIST", "GET_ENV", "ABORT", "STOP"}
	table := map[wire.DataState][]want{
		idle:      {{ok, listen}, {ok, connected}, {is, idle}, {is, idle}, {is, idle}, {is, idle}, {is, idle}, {is, idle}},
		listen:    {{is, listen}, {is, listen}, {ok, active}, {ok, active}, {ok, active}, {is, listen}, {ok, halted}, {is, listen}},
		connected: {{is, connected}, {is, connected}, {ok, active}, {ok, active}, {ok, active}, {is, connected}, {ok, halted}, {is, connected}},
		active:    {{is, active}, {is, active}, {is, active}, {is, active}, {is, active}, {ok, active}, {ok, halted}, {is, active}},
		halted:    {{is, halted}, {is, halted}, {is, halted}, {is, halted}, {is, halted}, {ok, halted}, {ok, halted}, {ok, idle}},
	}
	for _, v := range versions() {
		for _, st := range []wire.DataState{idle, listen, connected, active, halted} {
			for i, req := range requests {
				w := table[st][i]
				t.Run(vname(v)+"/"+st.String()+"/"+req, func(t *testing.T) {
					r := newDataRig(t, v)
					r.reach(t, st)
					wantErr(t, req, r.do(req), w.err)
					if got := r.s.GetState().State; got != w.state {
						t.Fatalf("%s in %v left the service %v, want %v", req, st, got, w.state)
					}
				})
			}
		}
	}
}

// dataRig is a data service whose LOCAL peer (the mover side of the link) is
// played by the test.
type dataRig struct {
	s     *Service
	posts *poster
	link  *dataconn.Link
	peers []*dataconn.Conn
}

func newDataRig(t *testing.T, v wire.Version) *dataRig {
	r := &dataRig{posts: newPoster(), link: dataconn.NewLink(0)}
	r.s = New(Config{Version: v, Notify: r.posts.notify, Link: r.link, Engines: map[string]Engine{"tar": blockingEngine{}}})
	t.Cleanup(func() {
		r.s.Shutdown()
		for _, c := range r.peers {
			c.Close()
		}
	})
	return r
}

func (r *dataRig) keep(c *dataconn.Conn) error {
	r.peers = append(r.peers, c)
	return nil
}

func (r *dataRig) reach(t *testing.T, st wire.DataState) {
	t.Helper()
	switch st {
	case wire.DataStateIdle:
		return
	case wire.DataStateListen:
		if _, err := r.s.Listen(wire.AddrLocal); err != nil {
			t.Fatal(err)
		}
	default:
		wantErr(t, "CONNECT", r.do("CONNECT"), wire.ErrNone)
	}
	if st == wire.DataStateActive || st == wire.DataStateHalted {
		wantErr(t, "START_BACKUP", r.s.StartBackup("tar", nil), wire.ErrNone)
	}
	if st == wire.DataStateHalted {
		r.s.Abort()
		r.posts.dataHalted(t, wire.DataHaltAborted)
	}
	wantState(t, r.s, st)
}

func (r *dataRig) do(req string) error {
	nlist := []wire.Name{{OriginalPath: "/"}}
	switch req {
	case "LISTEN":
		_, err := r.s.Listen(wire.AddrLocal)
		return err
	case "CONNECT":
		r.link.Listen(dataconn.Mover, r.keep)
		return r.s.Connect(context.Background(), wire.Addr{Type: wire.AddrLocal})
	case "START_BACKUP":
		return r.s.StartBackup("tar", nil)
	case "START_RECOVER":
		return r.s.StartRecover("tar", nil, nlist)
	case "START_RECOVER_FILEHIST":
		return r.s.StartRecoverFilehist("tar", nil, nlist)
	case "GET_ENV":
		_, err := r.s.GetEnv()
		return err
	case "ABORT":
		return r.s.Abort()
	case "STOP":
		return r.s.Stop()
	}
	panic("unknown request " + req)
}
