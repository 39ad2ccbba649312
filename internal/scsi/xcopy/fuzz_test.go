package xcopy_test

import (
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/xcopy"
)

// FuzzParse: any parameter list decodes or is refused with ILLEGAL
// REQUEST sense, and what decodes stays inside the limits and the list.
func FuzzParse(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, p []byte) {
		l, err := xcopy.Parse(p)
		if err != nil {
			s, ok := scsi.SenseOf(err)
			if !ok || s.Key != scsi.IllegalRequest {
				t.Fatalf("error %v: want ILLEGAL REQUEST sense", err)
			}
			return
		}
		if l == nil {
			if len(p) != 0 {
				t.Fatal("nil list without error")
			}
			return
		}
		if len(l.CSCDs) > xcopy.MaxCSCDs || len(l.Segments) > xcopy.MaxSegments || len(l.Inline) > xcopy.MaxInline {
			t.Fatalf("limits exceeded: %d CSCDs, %d segments, %d inline", len(l.CSCDs), len(l.Segments), len(l.Inline))
		}
		for _, s := range l.Segments {
			if s.Offset < 16 || s.Offset >= len(p) {
				t.Fatalf("segment offset %d outside the list", s.Offset)
			}
		}
		for _, c := range l.CSCDs {
			if c.Type == xcopy.CSCDiSCSIv4 || c.Type == xcopy.CSCDiSCSIv6 {
				if c.BadExtension == 0 && (c.Portal.Port() == 0 || !c.Portal.Addr().IsValid()) {
					t.Fatalf("iSCSI CSCD without a portal: %+v", c)
				}
				continue
			}
			if c.Type != xcopy.CSCDIdentification {
				continue // the extension of an EAh descriptor
			}
			if len(c.Value) == 0 || len(c.Value) > 20 {
				t.Fatalf("designator of %d bytes", len(c.Value))
			}
		}
	})
}
