// Package dataconn carries NDMP data connections inside one process.
//
// An NDMP session that controls both a mover and a data service may join them
// with NDMP_ADDR_LOCAL instead of TCP: DATA_CONNECT(LOCAL) to a mover in
// LISTEN(LOCAL), or MOVER_CONNECT(LOCAL) to a data service in LISTEN(LOCAL). The
// per-session Link is where the two meet; the connection itself is a Pipe, an
// in-memory ring buffer with back-pressure in both directions.
//
// The package sits below both internal/ndmp/mover and internal/ndmp/data so that
// neither imports the other.
package dataconn

import (
	"errors"
	"sync"
)

// Side names the party of a session using the Link.
type Side uint8

// The two parties of a LOCAL data connection.
const (
	Mover Side = iota
	Data
)

// String names the side for logs.
func (s Side) String() string {
	if s == Mover {
		return "mover"
	}
	return "data"
}

func (s Side) other() Side { return 1 - s }

// Errors returned by a Link.
var (
	ErrNotListening = errors.New("dataconn: the other side is not listening on LOCAL")
	ErrBusy         = errors.New("dataconn: this side is already listening")
	ErrNoReader     = errors.New("dataconn: no mover serves LOCAL reads")
)

// Reader is the mover's half of a LOCAL recovery: the in-process equivalent of
// NDMP_NOTIFY_DATA_READ followed by NDMP_MOVER_READ.
type Reader interface {
	Read(offset, length uint64) error
}

// Link joins one session's mover and data service. Its methods are safe for
// concurrent use. The zero value is not usable; call NewLink.
type Link struct {
	mu       sync.Mutex
	attach   [2]func(c *Conn) error // set while that side listens
	reader   Reader
	pipeSize int
}

// NewLink returns a Link whose pipes buffer pipeSize bytes in each direction
// (DefaultPipeBuffer when pipeSize <= 0).
func NewLink(pipeSize int) *Link {
	return &Link{pipeSize: pipeSize}
}

// Listen registers side as listening. When the other side connects, attach is
// called synchronously, from the connecting goroutine, with the listener's end of
// a new pipe; if attach fails the connect fails with its error.
func (l *Link) Listen(side Side, attach func(c *Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.attach[side] != nil {
		return ErrBusy
	}
	l.attach[side] = attach
	return nil
}

// Unlisten withdraws side's listen; it is a no-op when side is not listening.
func (l *Link) Unlisten(side Side) {
	l.mu.Lock()
	l.attach[side] = nil
	l.mu.Unlock()
}

// Listening reports whether side is listening.
func (l *Link) Listening(side Side) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attach[side] != nil
}

// Connect joins side to the other side, which must be listening, and returns
// side's end of the pipe. The listener stops listening either way.
func (l *Link) Connect(side Side) (*Conn, error) {
	l.mu.Lock()
	attach := l.attach[side.other()]
	l.attach[side.other()] = nil
	size := l.pipeSize
	l.mu.Unlock()
	if attach == nil {
		return nil, ErrNotListening
	}
	mine, theirs := Pipe(size)
	if err := attach(theirs); err != nil {
		mine.Close()
		theirs.Close()
		return nil, err
	}
	return mine, nil
}

// SetReader registers the session's mover as the target of LOCAL read requests.
func (l *Link) SetReader(r Reader) {
	l.mu.Lock()
	l.reader = r
	l.mu.Unlock()
}

// Reader returns the mover registered with SetReader, or nil.
func (l *Link) Reader() Reader {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reader
}

// Read asks the session's mover for the stream segment [offset, offset+length),
// as a MOVER_READ would.
func (l *Link) Read(offset, length uint64) error {
	l.mu.Lock()
	r := l.reader
	l.mu.Unlock()
	if r == nil {
		return ErrNoReader
	}
	return r.Read(offset, length)
}
