package smctest

import "testing"

// FuzzCheckElementStatus feeds arbitrary element status data (what a
// foreign changer may answer) to the suite's parser: it must never panic,
// and data it accepts must have descriptors inside the reply.
func FuzzCheckElementStatus(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, voltag bool) {
		els, err := parseStatus(b, voltag)
		if err != nil {
			return
		}
		for _, e := range els {
			if len(e.raw) < 12 {
				t.Fatalf("descriptor of %d bytes accepted", len(e.raw))
			}
		}
	})
}
