package server

import (
	"errors"
	"path/filepath"
	"testing"

	"ferry/internal/library"
	"ferry/internal/ndmp/wire"
	"ferry/internal/tape"
	"ferry/internal/tape/store"
)

// TestTapeServiceOnALibraryInMemory: the TAPE service writes through
// whatever library it is given; here the cartridges live in memory and
// what an NDMP client wrote is found there.
func TestTapeServiceOnALibraryInMemory(t *testing.T) {
	s := store.NewMem()
	o := library.DefaultOptions()
	o.Cartridges = s
	lib, err := library.OpenWith(filepath.Join(t.TempDir(), "library"), o)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	ts := newTestServer(t, func(c *Config) { c.Library = lib })
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape0", wire.TapeRdwrMode)); e != wire.ErrNone {
		t.Fatal(e)
	}
	var wr wire.TapeWriteReply
	if c.call(wire.CodeTapeWrite, &wire.TapeWriteRequest{DataOut: []byte("in memory")}, &wr); wr.Error != wire.ErrNone {
		t.Fatalf("write: %v", wr.Error)
	}
	if e := c.callErr(wire.CodeTapeClose, &wire.TapeCloseRequest{}); e != wire.ErrNone {
		t.Fatal(e)
	}
	var barcode string
	els, _ := lib.Elements()
	for _, e := range els {
		if e.Drive == "tape0" {
			barcode = e.Barcode
		}
	}
	m, err := tape.OpenIn(s, barcode, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	buf := make([]byte, 100)
	if n, err := m.ReadRecord(buf); err != nil || string(buf[:n]) != "in memory" {
		t.Fatalf("record in the store: %q, %v", buf[:n], err)
	}
	if _, err := m.ReadRecord(buf); !errors.Is(err, tape.ErrFilemark) {
		t.Fatalf("after the record: %v, want the filemark TAPE_CLOSE writes", err)
	}
}

// TestNewRefusesANilLibrary: a nil *library.Library is no library.
func TestNewRefusesANilLibrary(t *testing.T) {
	var lib *library.Library
	if _, err := New(Config{Library: lib}); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("New with a nil library: %v", err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("New without a library: %v", err)
	}
}
