package wire

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTsharkDecodes writes every example message of a version into a pcap
// as one NDMP conversation on port 10000 (the only port Wireshark's
// dissector accepts) and has tshark decode it: an independent decoder must
// find every message and flag nothing as malformed.
func TestTsharkDecodes(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	if testing.Short() {
		t.Skip("runs tshark; skipped in -short mode")
	}
	for _, v := range versions {
		t.Run(v.name(), func(t *testing.T) {
			msgs, codes := conversation(v)
			path := filepath.Join(t.TempDir(), "ndmp.pcap")
			if err := os.WriteFile(path, pcapOf(msgs), 0o644); err != nil {
				t.Fatal(err)
			}
			out := runTshark(t, tshark, path, "-Y", "_ws.malformed || _ws.expert.severity >= error",
				"-T", "fields", "-e", "frame.number", "-e", "ndmp.msg", "-e", "_ws.expert.message")
			if strings.TrimSpace(out) != "" {
				t.Errorf("tshark reports problems (frame, code, message):\n%s", out)
			}
			out = runTshark(t, tshark, path, "-Y", "ndmp", "-T", "fields", "-e", "ndmp.msg")
			got := strings.Fields(out)
			if len(got) != len(codes) {
				t.Fatalf("tshark found %d NDMP messages, want %d", len(got), len(codes))
			}
			for i, c := range codes {
				if !strings.EqualFold(got[i], "0x"+hex8(uint32(c))) {
					t.Errorf("message %d: tshark says code %s, sent %v", i, got[i], c)
				}
			}
		})
	}
}

func (v Version) name() string { return "v" + string(rune('0'+v)) }

func hex8(x uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[x&0xF]
		x >>= 4
	}
	return string(b[:])
}

func runTshark(t *testing.T, tshark, path string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tshark, append([]string{"-n", "-r", path}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// tcpMsg is one NDMP record sent by the DMA (fromDMA) or the server.
type tcpMsg struct {
	fromDMA bool
	rec     []byte
}

// conversation returns a session in version v: the server's greeting,
// CONNECT_OPEN, then every example request followed by its reply, and
// every post; codes lists the message code of each record in order.
func conversation(v Version) ([]tcpMsg, []Code) {
	var msgs []tcpMsg
	var codes []Code
	seq := map[bool]uint32{}
	send := func(fromDMA bool, typ MessageType, c Code, replyTo uint32, body Body) uint32 {
		seq[fromDMA]++
		h := Header{Sequence: seq[fromDMA], Timestamp: 1700000000, Type: typ, Code: c, ReplySequence: replyTo}
		msgs = append(msgs, tcpMsg{fromDMA, AppendMessage(nil, h, body, v)})
		codes = append(codes, c)
		return h.Sequence
	}
	send(false, Request, CodeNotifyConnectionStatus, 0, &NotifyConnectionStatus{ProtocolVersion: uint16(v), TextReason: "Hello"})
	s := send(true, Request, CodeConnectOpen, 0, &ConnectOpenRequest{ProtocolVersion: uint16(v)})
	send(false, Reply, CodeConnectOpen, s, &ErrorReply{})
	ex := examples(v)
	keys := make([]msgKey, 0, len(ex))
	for k := range ex {
		// The version is agreed above; another CONNECT_OPEN would switch
		// Wireshark's idea of it, and CONNECT_CLOSE would end the session.
		// Wireshark knows no extension class (ferry's included).
		if k.typ == Request && k.code != CodeConnectClose && k.code != CodeConnectOpen && k.code>>16 == 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b msgKey) int { return int(a.code) - int(b.code) })
	for _, k := range keys {
		if k.code.IsPost() {
			send(false, Request, k.code, 0, ex[k])
			continue
		}
		s := send(true, Request, k.code, 0, ex[k])
		send(false, Reply, k.code, s, ex[msgKey{k.code, Reply}])
	}
	return msgs, codes
}

// pcapOf lays the messages out as one TCP connection 127.0.0.1:40000 ->
// 127.0.0.1:10000 in a raw-IPv4 pcap, one record per segment.
func pcapOf(msgs []tcpMsg) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)               // thiszone, sigfigs
	b = binary.LittleEndian.AppendUint32(b, 262144) // snaplen
	b = binary.LittleEndian.AppendUint32(b, 101)    // LINKTYPE_RAW
	seq := map[bool]uint32{true: 1000, false: 5000}
	for i, m := range msgs {
		pkt := ipTCP(m.fromDMA, seq[m.fromDMA], seq[!m.fromDMA], m.rec)
		seq[m.fromDMA] += uint32(len(m.rec))
		b = binary.LittleEndian.AppendUint32(b, 1700000000+uint32(i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(pkt)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(pkt)))
		b = append(b, pkt...)
	}
	return b
}

// ipTCP builds an IPv4+TCP segment (PSH|ACK) carrying payload.
func ipTCP(fromDMA bool, seq, ack uint32, payload []byte) []byte {
	src, dst := uint16(40000), uint16(10000)
	if !fromDMA {
		src, dst = dst, src
	}
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
	tcp := binary.BigEndian.AppendUint16(nil, src)
	tcp = binary.BigEndian.AppendUint16(tcp, dst)
	tcp = binary.BigEndian.AppendUint32(tcp, seq)
	tcp = binary.BigEndian.AppendUint32(tcp, ack)
	tcp = append(tcp, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0) // offset 5, PSH|ACK, window, csum, urg
	return append(append(ip, tcp...), payload...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
