package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNdmjobDecodesOurReplies points NDMJOB's DMA (ndmjob -q) at a small
// responder built only from this package, so that NDMJOB's own XDR
// decoder reads bytes ferry encoded. The query must succeed and print the
// values we sent.
func TestNdmjobDecodesOurReplies(t *testing.T) {
	if _, err := exec.LookPath(ndmjobPath); err != nil {
		t.Skip("ndmjob not installed")
	}
	tests := []struct {
		flags string
		want  []string
	}{
		{"4t", []string{"NDMPv4", "NDMP4_AUTH_TEXT NDMP4_AUTH_MD5", "NDMP4_ADDR_LOCAL NDMP4_ADDR_TCP",
			"attrs      0x1e0e", "unsupported 0x8", "TOTAL_INODES_UNS"}},
		{"3t", []string{"NDMPv3", "NDMP3_AUTH_TEXT NDMP3_AUTH_MD5", "NDMP3_ADDR_LOCAL NDMP3_ADDR_TCP",
			"attrs      0x1fe", "backup-file-history   no", "invalid    0x8"}},
		{"4m", []string{"NDMPv4"}},
		{"3m", []string{"NDMPv3"}},
	}
	common := []string{"hostname   peer-test", "os_type    Linux", "vendor     ferry", "revision   0.test",
		"Backup type info of tar format", "set        HIST=y", "set        EXCLUDE=*.o",
		"File system /srv", "physdev    /dev/vda1", "type       ext4", "status     online",
		"space      1099511627776 total, 1073741824 used, 1098437885952 avail", "inodes     0 total, 12221 used",
		"set        LOCAL=y", "tape ferry VTL", "device     /srv/tape0", "REWIND", "set        EXECUTE_CDB=f"}
	for _, tt := range tests {
		t.Run(tt.flags, func(t *testing.T) {
			addr, done := startResponder(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			agent := fmt.Sprintf("%s/%s,ndmp,ndmp", addr, tt.flags)
			out, err := exec.CommandContext(ctx, ndmjobPath, "-q", "-D", agent, "-T", agent, "-f", "/srv/tape0").CombinedOutput()
			if err != nil {
				t.Fatalf("ndmjob: %v\n%s", err, out)
			}
			for _, w := range append(common, tt.want...) {
				if !strings.Contains(string(out), w) {
					t.Errorf("ndmjob output lacks %q", w)
				}
			}
			if err := done(); err != nil {
				t.Errorf("responder: %v", err)
			}
			if t.Failed() {
				t.Logf("ndmjob output:\n%s", out)
			}
		})
	}
}

// startResponder serves NDMP config queries on a loopback port until the
// test ends; done waits for every connection and returns the first
// protocol error the responder saw.
func startResponder(t *testing.T) (addr string, done func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 16)
	conns := make(chan int, 1)
	go func() {
		n := 0
		defer func() { conns <- n }()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n++
			go func() { errc <- respond(c) }()
		}
	}()
	return ln.Addr().String(), func() error {
		ln.Close()
		n := <-conns
		var first error
		for range n {
			if err := <-errc; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}

// respond runs one connection: greet, then answer each request.
func respond(c net.Conn) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	v := V4
	var out []byte
	seq := uint32(0)
	send := func(h Header, body Body) error {
		seq++
		h.Sequence, h.Timestamp = seq, uint32(time.Now().Unix())
		out = AppendMessage(out[:0], h, body, v)
		_, err := c.Write(out)
		return err
	}
	hello := &NotifyConnectionStatus{Reason: ConnectionConnected, ProtocolVersion: 4, TextReason: "Hello"}
	if err := send(Header{Type: Request, Code: CodeNotifyConnectionStatus}, hello); err != nil {
		return err
	}
	rr := NewRecordReader(c, 0)
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		h, rest, err := DecodeHeader(rec)
		if err != nil {
			return err
		}
		if h.Code == CodeConnectOpen {
			req, err := DecodeBody(h.Code, h.Type, v, rest)
			if err != nil {
				return err
			}
			v = Version(req.(*ConnectOpenRequest).ProtocolVersion)
		} else if _, err := DecodeBody(h.Code, h.Type, v, rest); err != nil {
			return fmt.Errorf("decoding %v from ndmjob: %w", h.Code, err)
		}
		reply := Header{Type: Reply, Code: h.Code, ReplySequence: h.Sequence}
		body := answer(h.Code, v)
		if body == nil {
			reply.Error = ErrNotSupported
		}
		if err := send(reply, body); err != nil {
			return err
		}
	}
}

// answer returns the reply body for a query request.
func answer(c Code, v Version) Body {
	devs := []DeviceInfo{{Model: "ferry VTL", Caplist: []DeviceCapability{
		{Device: "/srv/tape0", Attr: TapeAttrRewind, Capability: []PVal{{"EXECUTE_CDB", "f"}}}}}}
	switch c {
	case CodeConnectOpen, CodeConnectClientAuth, CodeTapeOpen, CodeTapeClose:
		return &ErrorReply{}
	case CodeConfigGetAuthAttr:
		return &ConfigGetAuthAttrReply{ServerAttr: AuthAttr{AuthType: AuthMD5, Challenge: [64]byte{1, 2, 3, 63: 4}}}
	case CodeConfigGetHostInfo:
		return &ConfigGetHostInfoReply{Hostname: "peer-test", OSType: "Linux", OSVers: "6", HostID: "1"}
	case CodeConfigGetServerInfo:
		return &ConfigGetServerInfoReply{VendorName: "ferry", ProductName: "ferry", RevisionNumber: "0.test",
			AuthType: []AuthType{AuthText, AuthMD5}}
	case CodeConfigGetConnectionType:
		return &ConfigGetConnectionTypeReply{AddrTypes: []AddrType{AddrLocal, AddrTCP}}
	case CodeConfigGetButypeInfo:
		attrs := ButypeBackupFhFile | ButypeBackupFhDir | ButypeRecoverFilehist | ButypeRecoverFhFile |
			ButypeBackupDirect | ButypeRecoverFilelist | ButypeBackupFilelist
		if v == V3 {
			attrs = 0x1fe
		}
		return &ConfigGetButypeInfoReply{ButypeInfo: []ButypeInfo{{ButypeName: "tar",
			DefaultEnv: []PVal{{"HIST", "y"}, {"EXCLUDE", "*.o"}}, Attrs: attrs}}}
	case CodeConfigGetFsInfo:
		return &ConfigGetFsInfoReply{FsInfo: []FsInfo{{Unsupported: FsInfoTotalInodesUnsupported, FsType: "ext4",
			FsLogicalDevice: "/srv", FsPhysicalDevice: "/dev/vda1", TotalSize: 1 << 40, UsedSize: 1 << 30,
			AvailSize: 1<<40 - 1<<30, UsedInodes: 12221, FsEnv: []PVal{{"LOCAL", "y"}}, FsStatus: "online"}}}
	case CodeConfigGetTapeInfo:
		return &ConfigGetTapeInfoReply{TapeInfo: devs}
	case CodeConfigGetScsiInfo:
		return &ConfigGetScsiInfoReply{}
	case CodeTapeGetState:
		return &TapeGetStateReply{Unsupported: TapeStateSoftErrorsUnsupported, BlockSize: 10240,
			TotalSpace: 1 << 36, SpaceRemain: 1 << 35, Partition: 1}
	}
	return nil
}
