package wire

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the fuzz seed corpora from testdata/golden")

// TestWriteSeedCorpus regenerates testdata/fuzz/FuzzDecodeMessage and
// testdata/fuzz/FuzzRecordReader from the golden ndmjob records: for each
// version, code, message type and header error, the first record seen and the longest one
// up to 4 KiB.
func TestWriteSeedCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to regenerate the seed corpora")
	}
	type key struct {
		v   Version
		c   Code
		typ MessageType
		err Error
	}
	picked := map[key][][]byte{}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	for _, f := range files {
		v, recs := readGolden(t, f)
		for _, r := range recs {
			h, _, err := DecodeHeader(r.rec)
			if err != nil {
				t.Fatal(err)
			}
			k := key{v, h.Code, h.Type, h.Error}
			switch p := picked[k]; {
			case len(p) == 0:
				picked[k] = [][]byte{r.rec}
			case len(r.rec) > 4096:
				// keep the corpus small: long tape records add nothing new
			case len(p) == 1 || len(r.rec) > len(p[1]):
				picked[k] = [][]byte{p[0], r.rec}
			}
		}
	}
	for k, recs := range picked {
		for _, rec := range recs {
			in := append([]byte{byte(k.v&1 ^ 1)}, rec...)
			writeSeed(t, "FuzzDecodeMessage", in)
			if k.c == CodeConfigGetAuthAttr || k.c == CodeTapeWrite || k.c == CodeNotifyConnectionStatus {
				writeSeed(t, "FuzzRecordReader", fragments(rec, min(len(rec), 5)))
			}
		}
	}
}

// writeSeed writes one []byte input in Go's fuzz corpus format, named by
// its hash like the fuzzer's own files.
func writeSeed(t *testing.T, target string, in []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("golden-%x", sha256.Sum256(in))[:23]
	data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
