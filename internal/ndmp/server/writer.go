package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/ndmp/wire"
)

// writeTimeout bounds one message write, so a peer that stops reading ends
// its own session instead of blocking the mover or data goroutine forever.
const writeTimeout = 2 * time.Minute

// writer sends a session's messages. Replies come from the session
// goroutine, posts also from the mover and data goroutines; the mutex keeps
// messages whole and the sequence counter dense.
type writer struct {
	mu   sync.Mutex
	conn net.Conn
	seq  uint32
	buf  []byte
	err  error // sticky: after a failed write nothing more is sent

	version atomic.Uint32 // the session's wire.Version, for posts
}

func newWriter(c net.Conn, v wire.Version) *writer {
	w := &writer{conn: c}
	w.version.Store(uint32(v))
	return w
}

func (w *writer) setVersion(v wire.Version) { w.version.Store(uint32(v)) }

func (w *writer) currentVersion() wire.Version { return wire.Version(w.version.Load()) }

// reply answers the request with header req. A non-nil herr is a header
// error: the reply then carries no body.
func (w *writer) reply(req wire.Header, body wire.Body, herr wire.Error) error {
	h := wire.Header{
		Type:          wire.Reply,
		Code:          req.Code,
		ReplySequence: req.Sequence,
		Error:         herr,
	}
	if herr != wire.ErrNone {
		body = nil
	}
	return w.send(h, body, writeTimeout)
}

// post sends a post (NOTIFY_*, LOG_*, FH_*), which is never answered.
func (w *writer) post(code wire.Code, body wire.Body) error {
	return w.send(wire.Header{Type: wire.Request, Code: code}, body, writeTimeout)
}

// send stamps h with the next sequence number and the time, and writes the
// whole record.
func (w *writer) send(h wire.Header, body wire.Body, timeout time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.seq++
	h.Sequence = w.seq
	h.Timestamp = uint32(time.Now().Unix())
	w.buf = wire.AppendMessage(w.buf[:0], h, body, w.currentVersion())
	w.conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := w.conn.Write(w.buf)
	if cap(w.buf) > 1<<20 {
		w.buf = nil // do not pin a large TAPE_READ reply's buffer
	}
	if err != nil {
		w.err = err
	}
	return err
}
