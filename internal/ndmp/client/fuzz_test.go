package client

import (
	"context"
	"net"
	"testing"
	"time"

	"ferry/internal/ndmp/wire"
)

// FuzzAgentStream feeds arbitrary bytes as an agent's stream after a valid
// greeting while one call waits: the client must neither panic nor hang,
// and the call must end once the stream does.
func FuzzAgentStream(f *testing.F) {
	reply := wire.AppendMessage(nil, wire.Header{Sequence: 2, Type: wire.Reply, Code: wire.CodeConfigGetHostInfo, ReplySequence: 1},
		&wire.ConfigGetHostInfoReply{Hostname: "h"}, wire.V4)
	post := wire.AppendMessage(nil, wire.Header{Sequence: 3, Code: wire.CodeFhAddFile},
		&wire.FhAddFile{Files: []wire.FhFile{{Names: []wire.FileName{{Path: "/a"}}, Stats: []wire.FileStat{{}}}}}, wire.V4)
	f.Add(append(append([]byte(nil), post...), reply...))
	f.Add(reply[:10])
	f.Add([]byte{0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, cli := net.Pipe()
		greet := wire.AppendMessage(nil, wire.Header{Sequence: 1, Code: wire.CodeNotifyConnectionStatus},
			&wire.NotifyConnectionStatus{ProtocolVersion: 4}, wire.V4)
		go func() {
			srv.Write(greet)
			go func() { // drain requests
				buf := make([]byte, 4096)
				for {
					if _, err := srv.Read(buf); err != nil {
						return
					}
				}
			}()
			srv.Write(data)
			srv.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := newConn(ctx, cli, Options{PostQueue: 1, Posts: func(Post) {}}.withDefaults())
		if err != nil {
			cli.Close()
			return
		}
		c.HostInfo(ctx)
		c.abort()
	})
}
