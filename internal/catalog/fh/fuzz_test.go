package fh

import (
	"strings"
	"testing"

	"ferry/internal/ndmp/wire"
)

// FuzzRecorder feeds arbitrary node-based history (each 4 bytes: kind,
// node, parent, name) and checks that the recorder ends, emits only
// rooted paths, and places each node at most once per name.
func FuzzRecorder(f *testing.F) {
	f.Add([]byte{0, 2, 2, '.', 0, 3, 2, 'a', 1, 3, 0, 0, 1, 2, 0, 0})
	f.Add([]byte{0, 3, 4, 'a', 0, 4, 3, 'b', 1, 3, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c collect
		r := New(&c)
		names := 0
		for i := 0; i+4 <= len(data); i += 4 {
			node, parent := uint64(data[i+1]), uint64(data[i+2])
			name := string(rune('a' + data[i+3]%26))
			if data[i+3] == '.' {
				name = "."
			}
			if data[i]%2 == 0 {
				names++
				r.Post(&wire.FhAddDir{Dirs: []wire.FhDir{{Names: unix(name), Node: node, Parent: parent}}})
			} else {
				r.Post(&wire.FhAddNode{Nodes: []wire.FhNode{{Node: node, Stats: stat(wire.FileType(data[i+3]%9), 1)}}})
			}
		}
		r.Close()
		for _, p := range c.paths() {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("unrooted path %q", p)
			}
		}
		if len(c) > names+len(data)/4 {
			t.Fatalf("%d entries from %d records", len(c), len(data)/4)
		}
	})
}
