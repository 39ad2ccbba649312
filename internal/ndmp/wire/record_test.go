package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fragments splits rec into record-marked fragments of the given sizes
// (the last fragment takes the rest).
func fragments(rec []byte, sizes ...int) []byte {
	var b []byte
	for _, n := range sizes {
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		b = append(b, rec[:n]...)
		rec = rec[n:]
	}
	b = binary.BigEndian.AppendUint32(b, lastFragment|uint32(len(rec)))
	return append(b, rec...)
}

func TestRecordReaderFragments(t *testing.T) {
	msg := AppendMessage(nil, Header{Sequence: 1, Code: CodeConnectOpen}, &ConnectOpenRequest{ProtocolVersion: 4}, V4)
	rec := msg[4:]
	var stream []byte
	stream = append(stream, fragments(rec, 3, 0, 10)...) // like ndmjob's 3-fragment probe, plus an empty one
	stream = append(stream, msg...)
	stream = append(stream, fragments(nil)...) // an empty record
	rr := NewRecordReader(bytes.NewReader(stream), 0)
	for i, want := range [][]byte{rec, rec, {}} {
		got, err := rr.Next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("record %d = %x, %v; want %x", i, got, err, want)
		}
	}
	if _, err := rr.Next(); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
	if _, err := rr.Next(); err != io.EOF {
		t.Fatalf("error not sticky: %v", err)
	}
}

func TestRecordReaderTruncated(t *testing.T) {
	full := fragments(bytes.Repeat([]byte{7}, 40), 16)
	for _, n := range []int{2, 4, 10, 20, 23, len(full) - 1} {
		rr := NewRecordReader(bytes.NewReader(full[:n]), 0)
		if _, err := rr.Next(); err != io.ErrUnexpectedEOF {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestRecordReaderTooLarge(t *testing.T) {
	rec := bytes.Repeat([]byte{1}, 100)
	for i := range rec {
		rec[i] = byte(i)
	}
	next := AppendMessage(nil, Header{Sequence: 2, Code: CodeTapeClose}, nil, V4)
	for _, sizes := range [][]int{nil, {60}, {50, 50}, {10, 10, 0, 30}, {99}} {
		stream := append(fragments(rec, sizes...), next...)
		rr := NewRecordReader(bytes.NewReader(stream), 99)
		_, err := rr.Next()
		var tl *TooLargeError
		if !errors.Is(err, ErrRecordTooLarge) || !errors.As(err, &tl) {
			t.Fatalf("fragments %v: %v, want ErrRecordTooLarge", sizes, err)
		}
		if tl.Size != 100 || tl.Max != 99 || !bytes.Equal(tl.Head, rec[:HeaderSize]) {
			t.Errorf("fragments %v: size %d max %d head %x", sizes, tl.Size, tl.Max, tl.Head)
		}
		// The reader skipped the record and goes on with the next one.
		if got, err := rr.Next(); err != nil || !bytes.Equal(got, next[4:]) {
			t.Errorf("fragments %v: record after the skipped one: %x, %v", sizes, got, err)
		}
	}
	rr := NewRecordReader(bytes.NewReader(fragments(rec, 50)), 100)
	if got, err := rr.Next(); err != nil || len(got) != 100 {
		t.Fatalf("record at the limit: %d bytes, %v", len(got), err)
	}
}

// TestRecordReaderTooLargeShortHead checks that a skipped record shorter
// than a header reports what it has.
func TestRecordReaderTooLargeShortHead(t *testing.T) {
	rr := NewRecordReader(bytes.NewReader(fragments([]byte("0123456789"))), 8)
	_, err := rr.Next()
	var tl *TooLargeError
	if !errors.As(err, &tl) || string(tl.Head) != "0123456789" || tl.Size != 10 {
		t.Fatalf("err %v", err)
	}
	if _, err := rr.Next(); err != io.EOF {
		t.Fatalf("after skipped record: %v, want io.EOF", err)
	}
}

// TestRecordReaderHostileLength checks that a peer announcing a huge
// fragment and sending little makes the reader allocate little.
func TestRecordReaderHostileLength(t *testing.T) {
	stream := append([]byte{0xFF, 0xFF, 0xFF, 0xFF}, make([]byte, 100)...)
	rr := NewRecordReader(bytes.NewReader(stream), 1<<31-1)
	if _, err := rr.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err %v", err)
	}
	if cap(rr.buf) > 2*growStep {
		t.Fatalf("buffer grew to %d bytes for 100 bytes of input", cap(rr.buf))
	}
	rr = NewRecordReader(bytes.NewReader(stream), 0)
	if _, err := rr.Next(); err != io.ErrUnexpectedEOF || cap(rr.buf) > 2*growStep {
		t.Fatalf("over the limit: err %v, buffer %d", err, cap(rr.buf))
	}
}

func TestRecordReaderReusesBuffer(t *testing.T) {
	msg := AppendMessage(nil, Header{Code: CodeTapeWrite}, &TapeWriteRequest{DataOut: make([]byte, 256<<10)}, V4)
	var stream []byte
	for range 8 {
		stream = append(stream, msg...)
	}
	r := bytes.NewReader(stream)
	rr := NewRecordReader(r, 0)
	rr.Next()
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := rr.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Next allocated %v times per record once warm", allocs)
	}
}

// TestRecordReaderSocket sends a 4 MiB TAPE_WRITE in many fragments over a
// loopback TCP connection.
func TestRecordReaderSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	msg := AppendMessage(nil, Header{Sequence: 9, Code: CodeTapeWrite}, &TapeWriteRequest{DataOut: data}, V4)
	sizes := make([]int, 0, 70)
	for range 64 {
		sizes = append(sizes, 65536)
	}
	stream := fragments(msg[4:], sizes...)
	errc := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			_, err = c.Write(stream)
			c.Close()
		}
		errc <- err
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rec, err := NewRecordReader(c, 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	h, rest, _ := DecodeHeader(rec)
	body, err := DecodeBody(h.Code, h.Type, V4, rest)
	if err != nil || !bytes.Equal(body.(*TapeWriteRequest).DataOut, data) {
		t.Fatalf("TAPE_WRITE did not survive: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
