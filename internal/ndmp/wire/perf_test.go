package wire

import (
	"fmt"
	"testing"

	"ferry/internal/xdr"
)

// fhBatch returns n file history entries like a tar-style backup sends.
func fhBatch(n int) (*FhAddFile, *FhAddDir, *FhAddNode) {
	files := make([]FhFile, n)
	dirs := make([]FhDir, n)
	nodes := make([]FhNode, n)
	for i := range n {
		st := exStat
		st.Size = uint64(i) * 4096
		name := fmt.Sprintf("/srv/data/project/file-%04d.dat", i)
		files[i] = FhFile{Names: []FileName{{Path: name}}, Stats: []FileStat{st}, Node: uint64(i + 2), FhInfo: uint64(i) * 10240}
		dirs[i] = FhDir{Names: []FileName{{Path: name[18:]}}, Node: uint64(i + 2), Parent: 2}
		nodes[i] = FhNode{Stats: []FileStat{st}, Node: uint64(i + 2), FhInfo: uint64(i) * 10240}
	}
	return &FhAddFile{Files: files}, &FhAddDir{Dirs: dirs}, &FhAddNode{Nodes: nodes}
}

// TestFileHistoryEncodeAllocFree pins the hot path: appending a file
// history batch into a reused buffer allocates nothing.
func TestFileHistoryEncodeAllocFree(t *testing.T) {
	f, d, n := fhBatch(64)
	buf := make([]byte, 0, 64<<10)
	for _, body := range []Body{f, d, n} {
		for _, v := range versions {
			h := Header{Sequence: 1, Code: CodeFhAddFile}
			allocs := testing.AllocsPerRun(100, func() {
				buf = AppendMessage(buf[:0], h, body, v)
			})
			if allocs != 0 {
				t.Errorf("%T v%d: %v allocations per batch", body, v, allocs)
			}
		}
	}
}

func BenchmarkEncodeFhAddFile64(b *testing.B) {
	f, _, _ := fhBatch(64)
	buf := AppendMessage(nil, Header{Code: CodeFhAddFile}, f, V4)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessage(buf[:0], Header{Code: CodeFhAddFile}, f, V4)
	}
}

func BenchmarkDecodeFhAddFile64(b *testing.B) {
	f, _, _ := fhBatch(64)
	rec := AppendMessage(nil, Header{Code: CodeFhAddFile}, f, V4)[4+HeaderSize:]
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBody(CodeFhAddFile, Request, V4, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTapeWrite256K(b *testing.B) {
	w := &TapeWriteRequest{DataOut: make([]byte, 256<<10)}
	buf := AppendMessage(nil, Header{Code: CodeTapeWrite}, w, V4)
	b.SetBytes(int64(len(w.DataOut)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessage(buf[:0], Header{Code: CodeTapeWrite}, w, V4)
	}
}

func BenchmarkDecodeTapeWrite256K(b *testing.B) {
	w := &TapeWriteRequest{DataOut: make([]byte, 256<<10)}
	rec := AppendMessage(nil, Header{Code: CodeTapeWrite}, w, V4)[4:]
	var body TapeWriteRequest
	var d xdr.Decoder
	b.SetBytes(int64(len(w.DataOut)))
	b.ReportAllocs()
	for b.Loop() {
		_, rest, _ := DecodeHeader(rec)
		d.Reset(rest)
		body.DecodeXDR(&d, V4)
		if d.Err() != nil || len(body.DataOut) != len(w.DataOut) {
			b.Fatal(d.Err())
		}
	}
}
