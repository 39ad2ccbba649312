package data

import (
	"context"
	"errors"
	"fmt"
	"io"

	"ferry/internal/ndmp/wire"
)

// StartBackup answers DATA_START_BACKUP: run the butype's engine writing to the
// data connection. PATHNAME_SEPARATOR=/ joins the environment unless the DMA
// sent one (spec §3.5.2.3).
func (s *Service) StartBackup(butype string, env []wire.PVal) error {
	if !hasVar(env, "PATHNAME_SEPARATOR") {
		env = append(append([]wire.PVal(nil), env...), wire.PVal{Name: "PATHNAME_SEPARATOR", Value: "/"})
	}
	return s.start(wire.DataOpBackup, butype, env, nil)
}

// StartRecover answers DATA_START_RECOVER: run the butype's engine reading the
// data connection to restore nlist. An empty nlist asks for the whole backup:
// that is what NDMJOB's DMA sends for a restore without a file list.
func (s *Service) StartRecover(butype string, env []wire.PVal, nlist []wire.Name) error {
	return s.start(wire.DataOpRecover, butype, env, nlist)
}

// StartRecoverFilehist answers DATA_START_RECOVER_FILEHIST: like StartRecover,
// but the engine only posts file history.
func (s *Service) StartRecoverFilehist(butype string, env []wire.PVal, nlist []wire.Name) error {
	return s.start(wire.DataOpRecoverFilehist, butype, env, nlist)
}

// ErrNoEngine is wrapped (with wire.ErrIllegalArgs) by a start request for a
// butype no engine is registered for.
var ErrNoEngine = errors.New("data: no backup engine registered")

type noEngineError struct {
	butype string
	code   error
}

func (e *noEngineError) Error() string {
	return fmt.Sprintf("%v for butype %q (%v)", ErrNoEngine, e.butype, e.code)
}

func (e *noEngineError) Unwrap() []error { return []error{ErrNoEngine, e.code} }

// Checker is an Engine that can refuse a start request before the
// operation starts (a path outside the exports): the request then fails
// with ILLEGAL_ARGS after a LOG_MESSAGE saying why, and the data service
// stays where it was, instead of halting an operation with INTERNAL_ERROR.
type Checker interface {
	Check(op wire.DataOperation, env []wire.PVal, nlist []wire.Name) error
}

// RefusedError is a start request an Engine's Check refused; it is
// wire.ErrIllegalArgs (for the session's version) and the engine's error.
type RefusedError struct {
	Err  error
	code error
}

func (e *RefusedError) Error() string   { return fmt.Sprintf("data: refused: %v (%v)", e.Err, e.code) }
func (e *RefusedError) Unwrap() []error { return []error{e.Err, e.code} }

// start checks a start request and launches the engine. It is taken in
// CONNECTED and also in LISTEN, where the engine waits for the peer, so that a
// DMA racing the data connection's accept is not refused.
func (s *Service) start(op wire.DataOperation, butype string, env []wire.PVal, nlist []wire.Name) error {
	eng := s.cfg.Engines[butype]
	if eng == nil {
		return &noEngineError{butype: butype, code: s.errFor(wire.ErrIllegalArgs)}
	}
	if err := s.check(eng, op, env, nlist); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State != wire.DataStateConnected && s.st.State != wire.DataStateListen {
		return s.errFor(wire.ErrIllegalState)
	}
	o := s.op
	if o.local && !s.moverModeFits(op) {
		return s.errFor(wire.ErrIllegalState)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	s.env.reset(env)
	s.st.Operation = op
	s.st.State = wire.DataStateActive
	job := &Job{Version: s.cfg.Version, Operation: op, Butype: butype, Env: env, Nlist: nlist, Post: s.cfg.Notify, svc: s,
		Checksums: s.cfg.Checksums != nil && s.cfg.Checksums()}
	if sums := s.takeChecksumsLocked(); op == wire.DataOpRecover && len(sums) > 0 {
		job.RecoverChecksums = sums
	}
	if job.Post == nil {
		job.Post = func(wire.Code, wire.Body) {}
	}
	o.wg.Add(1)
	go s.run(ctx, o, eng, job)
	return nil
}

// check asks a Checker engine about the request, outside the lock (it
// may look at the file system), and posts its refusal as an error
// LOG_MESSAGE before the reply carries ILLEGAL_ARGS. A request in the
// wrong state is left to start's ILLEGAL_STATE.
func (s *Service) check(eng Engine, op wire.DataOperation, env []wire.PVal, nlist []wire.Name) error {
	c, ok := eng.(Checker)
	s.mu.Lock()
	st := s.st.State
	s.mu.Unlock()
	if !ok || (st != wire.DataStateConnected && st != wire.DataStateListen) {
		return nil
	}
	err := c.Check(op, env, nlist)
	if err == nil {
		return nil
	}
	if s.cfg.Notify != nil {
		s.cfg.Notify(wire.CodeLogMessage, &wire.LogMessage{LogType: wire.LogError, Entry: err.Error()})
	}
	return &RefusedError{Err: err, code: s.errFor(wire.ErrIllegalArgs)}
}

// run is the engine goroutine: it waits for the data connection, runs the
// method and halts with its outcome.
func (s *Service) run(ctx context.Context, o *op, eng Engine, job *Job) {
	defer o.wg.Done()
	conn := s.awaitConn(o)
	if conn == nil {
		return
	}
	st := &stream{rw: conn, svc: s, o: o}
	var err error
	if job.Operation == wire.DataOpBackup {
		job.Stream = st
		if l, ok := conn.(lender); ok {
			job.Stream = &lendingStream{stream: st, l: l} // LOCAL: fill the pipe in place
		}
		err = eng.Backup(ctx, job)
	} else {
		job.Recovery = &Recovery{r: st, svc: s, local: o.local}
		err = eng.Recover(ctx, job)
	}
	reason := s.outcome(o, err)
	s.mu.Lock()
	halted := s.op == o && s.haltLocked(reason)
	s.mu.Unlock()
	if halted {
		s.notifyHalted(reason)
	}
}

// awaitConn waits in ACTIVE for the data connection; nil means the operation
// halted first.
func (s *Service) awaitConn(o *op) io.ReadWriteCloser {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.op == o && o.conn == nil && s.st.State == wire.DataStateActive {
		s.cond.Wait()
	}
	if s.op != o || s.st.State != wire.DataStateActive {
		return nil
	}
	return o.conn
}

// outcome maps the method's result to a halt reason.
func (s *Service) outcome(o *op, err error) wire.DataHaltReason {
	switch {
	case err == nil:
		return wire.DataHaltSuccessful
	case errors.Is(err, context.Canceled):
		return wire.DataHaltAborted
	case o.connErr.Load():
		return wire.DataHaltConnectError
	}
	return wire.DataHaltInternalError
}

// stream is the engine's view of the data connection: it counts
// bytes_processed and remembers whether the connection itself failed.
type stream struct {
	rw  io.ReadWriter
	svc *Service
	o   *op
}

func (t *stream) Read(p []byte) (int, error) {
	n, err := t.rw.Read(p)
	t.svc.bytes.Add(uint64(n))
	if err != nil && err != io.EOF {
		t.o.connErr.Store(true)
	}
	return n, err
}

func (t *stream) Write(p []byte) (int, error) {
	n, err := t.rw.Write(p)
	t.svc.bytes.Add(uint64(n))
	if err != nil {
		t.o.connErr.Store(true)
	}
	return n, err
}

// lender is the in-process pipe's way to be filled without a copy
// (dataconn.Conn; the stream writer's format.Lender).
type lender interface {
	Grant() ([]byte, error)
	Commit(n int) error
}

// lendingStream is a stream whose connection lends its memory: the engine
// fills it in place, and bytes are counted as they are committed.
type lendingStream struct {
	*stream
	l lender
}

func (t *lendingStream) Grant() ([]byte, error) {
	b, err := t.l.Grant()
	if err != nil {
		t.o.connErr.Store(true)
	}
	return b, err
}

func (t *lendingStream) Commit(n int) error {
	err := t.l.Commit(n)
	if err != nil {
		t.o.connErr.Store(true)
		return err
	}
	t.svc.bytes.Add(uint64(n))
	return nil
}

// moverModeFits reports whether the session's mover, at the other end of a
// LOCAL connection, moves data the way op needs (NDMJOB refuses a mismatch with
// ILLEGAL_STATE): READ for a backup, WRITE for a recover.
func (s *Service) moverModeFits(op wire.DataOperation) bool {
	m, ok := s.cfg.Link.Reader().(interface {
		GetState() wire.MoverGetStateReply
	})
	if !ok {
		return true
	}
	mode := m.GetState().Mode
	if op == wire.DataOpBackup {
		return mode == wire.MoverModeRead
	}
	return mode == wire.MoverModeWrite
}

func hasVar(env []wire.PVal, name string) bool {
	for _, p := range env {
		if p.Name == name {
			return true
		}
	}
	return false
}
