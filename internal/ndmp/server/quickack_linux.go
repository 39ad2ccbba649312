package server

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAckReader re-arms TCP_QUICKACK before every read of the control
// connection. A DMA that leaves Nagle's algorithm on (ndmjob does) sends a
// record of several fragments as several small writes; each one after the
// first waits for the ACK of the previous, which the kernel would delay by
// ~40 ms. Linux clears quick-ack mode on its own, hence every read.
type quickAckReader struct {
	c   net.Conn
	raw syscall.RawConn
}

// controlReader returns the reader a session decodes records from.
func controlReader(c net.Conn) io.Reader {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quickAckReader{c: c, raw: raw}
}

func (r *quickAckReader) Read(p []byte) (int, error) {
	r.raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
	return r.c.Read(p)
}
