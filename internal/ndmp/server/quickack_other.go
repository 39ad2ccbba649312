//go:build !linux

package server

import (
	"io"
	"net"
)

// controlReader returns the reader a session decodes records from.
func controlReader(c net.Conn) io.Reader { return c }
