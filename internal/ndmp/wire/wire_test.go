package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"ferry/internal/xdr"
)

var versions = []Version{V3, V4}

// TestRoundTripEveryMessage encodes a filled-in example of every message of
// both versions, decodes it and compares, then re-encodes and compares bytes.
func TestRoundTripEveryMessage(t *testing.T) {
	for _, v := range versions {
		ex := examples(v)
		for _, c := range Codes() {
			for _, typ := range []MessageType{Request, Reply} {
				name := fmt.Sprintf("v%d/%v/%v", v, c, typ)
				want := wantBody(c, typ, v)
				body, ok := ex[msgKey{c, typ}]
				if ok != want {
					t.Errorf("%s: example present %v, body type expected %v", name, ok, want)
					continue
				}
				if ok {
					t.Run(name, func(t *testing.T) { roundTrip(t, c, typ, v, body) })
				}
			}
		}
	}
}

// wantBody reports whether a message should have a body type.
func wantBody(c Code, typ MessageType, v Version) bool {
	if !Defined(c, v) {
		return false
	}
	return typ == Request || !c.IsPost()
}

func roundTrip(t *testing.T, c Code, typ MessageType, v Version, body Body) {
	t.Helper()
	h := Header{Sequence: 7, Timestamp: 1700000000, Type: typ, Code: c}
	if typ == Reply {
		h.ReplySequence = 6
	}
	rec := AppendMessage(nil, h, body, v)
	rr := NewRecordReader(bytes.NewReader(rec), 0)
	got, err := rr.Next()
	if err != nil {
		t.Fatal(err)
	}
	gh, rest, err := DecodeHeader(got)
	if err != nil || gh != h {
		t.Fatalf("header %+v, %v; want %+v", gh, err, h)
	}
	dec, err := DecodeBody(c, typ, v, rest)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.TypeOf(dec) != reflect.TypeOf(body) {
		t.Fatalf("decoded type %T, want %T", dec, body)
	}
	if diff := cmp.Diff(body, dec, cmpopts.EquateEmpty(), cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
		t.Fatalf("decoded body differs (-want +got):\n%s", diff)
	}
	if again := AppendMessage(nil, h, dec, v); !bytes.Equal(again, rec) {
		t.Fatalf("re-encoding differs:\n%x\n%x", again, rec)
	}
}

func TestNewBodyAvailability(t *testing.T) {
	tests := []struct {
		c       Code
		v       Version
		req     bool
		rep     bool
		repType Body
	}{
		{CodeConnectOpen, V3, true, true, &ErrorReply{}},
		{CodeConfigSetExtList, V3, false, false, nil},
		{CodeConfigSetExtList, V4, true, true, &ErrorReply{}},
		{CodeConfigGetExtList, V4, true, true, &ConfigGetExtListReply{}},
		{CodeScsiSetTarget, V4, false, false, nil},
		{CodeScsiResetBus, V3, true, true, &ErrorReply{}},
		{CodeFhAddFile, V4, true, false, nil},
		{CodeNotifyConnectionStatus, V3, true, false, nil},
		{CodeDataStartRecoverFilehist, V3, true, true, &ErrorReply{}},
		{CodeTapeExecuteCdb, V4, true, true, &ScsiExecuteCdbReply{}},
		{CodeConnectClose, V4, true, true, &ConnectCloseReply{}},
		{Code(0x40C), V4, false, false, nil},
		{Code(0x20500104), V4, false, false, nil},
		{CodeTapeOpen, Version(2), false, false, nil},
	}
	for _, tt := range tests {
		req, rep := NewRequest(tt.c, tt.v), NewReply(tt.c, tt.v)
		if (req != nil) != tt.req || (rep != nil) != tt.rep {
			t.Errorf("%v v%d: request %T reply %T", tt.c, tt.v, req, rep)
		}
		if tt.repType != nil && reflect.TypeOf(rep) != reflect.TypeOf(tt.repType) {
			t.Errorf("%v v%d: reply %T, want %T", tt.c, tt.v, rep, tt.repType)
		}
	}
}

func TestDecodeBodyErrors(t *testing.T) {
	ok := (&TapeOpenRequest{Device: "t", Mode: TapeReadMode}).AppendXDR(nil, V4)
	tests := []struct {
		name string
		c    Code
		typ  MessageType
		v    Version
		b    []byte
		want error
	}{
		{"trailing", CodeTapeOpen, Request, V4, append(ok, 0, 0, 0, 0), ErrTrailingBytes},
		{"truncated", CodeTapeOpen, Request, V4, ok[:len(ok)-1], xdr.ErrShort},
		{"unknown code", 0x12345, Request, V4, nil, ErrUnknownCode},
		{"v4 code in v3", CodeConfigGetExtList, Reply, V3, nil, ErrUnknownCode},
		{"reply to post", CodeLogMessage, Reply, V4, nil, ErrUnknownCode},
		{"bad message type", CodeTapeOpen, MessageType(2), V4, ok, ErrUnknownCode},
		{"bad addr union", CodeDataConnect, Request, V4, []byte{0, 0, 0, 9}, ErrBadUnion},
		{"fc addr in v4", CodeDataConnect, Request, V4, []byte{0, 0, 0, 2, 0, 0, 0, 1}, ErrBadUnion},
		{"bad auth union", CodeConnectClientAuth, Request, V4, []byte{0, 0, 0, 3}, ErrBadUnion},
		{"bad attr union", CodeConfigGetAuthAttr, Reply, V3, []byte{0, 0, 0, 0, 0, 0, 0, 5}, ErrBadUnion},
		{"u_short range", CodeConnectOpen, Request, V4, []byte{0, 1, 0, 4}, xdr.ErrRange},
		{"bool range", CodeLogMessage, Request, V4, logMessageWithValid(2), xdr.ErrBadBool},
		{"string cap", CodeScsiOpen, Request, V4, xdr.AppendString(nil, strings.Repeat("x", MaxString+1)), xdr.ErrTooLong},
		{"env cap", CodeDataGetEnv, Reply, V4, envOf(MaxEnv + 1), xdr.ErrTooLong},
		{"hostile count", CodeFhAddFile, Request, V4, []byte{0, 0x0F, 0xFF, 0xFF}, xdr.ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := DecodeBody(tt.c, tt.typ, tt.v, tt.b)
			if !errors.Is(err, tt.want) || body != nil {
				t.Fatalf("DecodeBody = %T, %v; want %v", body, err, tt.want)
			}
		})
	}
}

func logMessageWithValid(valid uint32) []byte {
	b := (&LogMessage{Entry: "x"}).AppendXDR(nil, V3)
	b = xdr.AppendUint32(b, valid)
	return xdr.AppendUint32(b, 0)
}

func envOf(n int) []byte {
	b := appendError(nil, ErrNone)
	b = xdr.AppendUint32(b, uint32(n))
	for range n {
		b = xdr.AppendString(b, "k")
		b = xdr.AppendString(b, "v")
	}
	return b
}

// TestVersionLayouts pins the byte-level differences between v3 and v4.
func TestVersionLayouts(t *testing.T) {
	size := func(b Body, v Version) int { return len(b.AppendXDR(nil, v)) }
	tests := []struct {
		name   string
		body   Body
		v3, v4 int
	}{
		{"tape state partition", &TapeGetStateReply{}, 4*7 + 16 + 4, 4*7 + 16},
		{"mover state mode", &MoverGetStateReply{DataConnectionAddr: Addr{Type: AddrLocal}}, 4*6 + 40 + 4, 4*7 + 40 + 4},
		{"data halted text", &NotifyDataHalted{TextReason: "ok"}, 4 + 8, 4},
		{"mover halted text", &NotifyMoverHalted{TextReason: "ok"}, 4 + 8, 4},
		{"log message assoc", &LogMessage{}, 12, 20},
		{"tcp addr one vs list", &DataConnectRequest{Addr: Addr{Type: AddrTCP, TCP: []TCPAddr{{IP: 1, Port: 2}}}}, 4 + 8, 4 + 4 + 12},
		{"log file", &LogFile{Name: "abcd"}, 12, 12},
	}
	for _, tt := range tests {
		if g3, g4 := size(tt.body, V3), size(tt.body, V4); g3 != tt.v3 || g4 != tt.v4 {
			t.Errorf("%s: sizes v3 %d v4 %d, want %d %d", tt.name, g3, g4, tt.v3, tt.v4)
		}
	}
}

// TestV3AddrKeepsFirst checks that v3, which has one TCP address, sends the
// first of a list and drops its environment.
func TestV3AddrKeepsFirst(t *testing.T) {
	a := exAddr(V4)
	b := a.appendXDR(nil, V3)
	want := []byte{0, 0, 0, 1, 0x7f, 0, 0, 1, 0, 0, 0x9a, 0xdd}
	if !bytes.Equal(b, want) {
		t.Fatalf("v3 addr %x, want %x", b, want)
	}
	empty := (&Addr{Type: AddrTCP}).appendXDR(nil, V3)
	if len(empty) != 12 {
		t.Fatalf("v3 TCP addr without entries encodes %d bytes, want 12", len(empty))
	}
}

func TestNotifyConnectionStatusBytes(t *testing.T) {
	// Observed in ndmjob's capture (ndmp.md §1.3).
	want := []byte{0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 5, 'H', 'e', 'l', 'l', 'o', 0, 0, 0}
	for _, v := range versions {
		got := (&NotifyConnectionStatus{ProtocolVersion: 4, TextReason: "Hello"}).AppendXDR(nil, v)
		if !bytes.Equal(got, want) {
			t.Fatalf("v%d: %x, want %x", v, got, want)
		}
	}
}

func TestHeader(t *testing.T) {
	h := Header{Sequence: 1, Timestamp: 2, Type: Reply, Code: CodeTapeWrite, ReplySequence: 3, Error: ErrEOM}
	b := h.AppendXDR(nil)
	if len(b) != HeaderSize {
		t.Fatalf("header is %d bytes", len(b))
	}
	got, rest, err := DecodeHeader(append(b, 9))
	if err != nil || got != h || !bytes.Equal(rest, []byte{9}) {
		t.Fatalf("DecodeHeader = %+v %x %v", got, rest, err)
	}
	if _, _, err := DecodeHeader(b[:HeaderSize-1]); !errors.Is(err, ErrShortHeader) {
		t.Fatalf("short header: %v", err)
	}
}

func TestAppendMessageHeaderOnly(t *testing.T) {
	h := Header{Sequence: 5, Type: Reply, Code: CodeDataGetState, ReplySequence: 4, Error: ErrNotAuthorized}
	b := AppendMessage([]byte("x"), h, nil, V4)
	if len(b) != 1+4+HeaderSize || !bytes.Equal(b[1:5], []byte{0x80, 0, 0, 24}) {
		t.Fatalf("AppendMessage = %x", b)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{CodeMoverConnect.String(), "NDMP_MOVER_CONNECT"},
		{CodeConfigGetExtList.String(), "NDMP_CONFIG_GET_EXT_LIST"},
		{Code(0x20500104).String(), "Code(0x20500104)"},
		{ErrIllegalArgs.String(), "NDMP_ILLEGAL_ARGS_ERR"},
		{ErrExtDanDNIllegal.String(), "NDMP_EXT_DANDN_ILLEGAL"},
		{Error(31).String(), "Error(31)"},
		{ErrEOF.Error(), "ndmp: NDMP_EOF_ERR"},
		{Reply.String(), "REPLY"},
		{MoverModeNoAction.String(), "NOACTION"},
		{MoverState(9).String(), "MoverState(9)"},
		{RecoveryFailedFilePathExists.String(), "FAILED_FILE_PATH_EXISTS"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for e := ErrNone; e <= ErrExtDanDNIllegal; e++ {
		if strings.HasPrefix(e.String(), "Error(") {
			t.Errorf("error %d has no name", e)
		}
	}
}

func TestErrorVersions(t *testing.T) {
	var err error = ErrDeviceBusy
	var ne Error
	if !errors.As(err, &ne) || ne != ErrDeviceBusy {
		t.Fatal("Error does not work as a Go error")
	}
	tests := []struct {
		e    Error
		v    Version
		want Error
	}{
		{ErrConnect, V3, ErrConnect},
		{ErrSequenceNum, V3, ErrIllegalState},
		{ErrPrecondition, V3, ErrIllegalState},
		{ErrClassNotSupported, V3, ErrNotSupported},
		{Error(99), V3, ErrUndefined},
		{ErrSequenceNum, V4, ErrSequenceNum},
	}
	for _, tt := range tests {
		if got := tt.e.For(tt.v); got != tt.want {
			t.Errorf("%v.For(v%d) = %v, want %v", tt.e, tt.v, got, tt.want)
		}
	}
}

func TestErrorOf(t *testing.T) {
	tests := []struct {
		err  error
		want Error
	}{
		{nil, ErrNone},
		{ErrEOM, ErrEOM},
		{fmt.Errorf("tape: writing: %w", ErrWriteProtect), ErrWriteProtect},
		{errors.New("disk on fire"), ErrUndefined},
	}
	for _, tt := range tests {
		if got := ErrorOf(tt.err); got != tt.want {
			t.Errorf("ErrorOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestCodesComplete(t *testing.T) {
	n3, n4 := 0, 0
	for _, c := range Codes() {
		if Defined(c, V3) {
			n3++
		}
		if Defined(c, V4) {
			n4++
		}
	}
	// ndmp.md table 1.6: 55 v3 messages (with NDMJOB's RECOVER_FILEHIST),
	// 55 v4 messages, and v4's ferry extension post and request.
	if n3 != 55 || n4 != 57 {
		t.Fatalf("v3 has %d codes, v4 %d", n3, n4)
	}
}
