package changer

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStateRoundTrip(t *testing.T) {
	c := loaded(t)
	mustMove(t, c, 0x1000, 0x0100)
	if err := c.Place(0x0010, ""); err != nil {
		t.Fatal(err)
	}
	c.SetPreventRemoval(true)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got Changer
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if diff := cmp.Diff(c.Elements(), got.Elements()); diff != "" {
		t.Fatalf("elements (-want +got):\n%s", diff)
	}
	if !got.PreventRemoval() {
		t.Fatal("prevent flag lost")
	}
	if diff := cmp.Diff(c.Layout(), got.Layout()); diff != "" {
		t.Fatalf("layout (-want +got):\n%s", diff)
	}
}

// TestStateV1Sample keeps a version 1 document readable forever.
func TestStateV1Sample(t *testing.T) {
	b, err := os.ReadFile("testdata/state-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var c Changer
	if err := c.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	want := []Element{
		{Type: Transport, Address: 0x0001},
		{Type: ImportExport, Address: 0x0010},
		{Type: DataTransfer, Address: 0x0100, Drive: "tape0", Full: true, Barcode: "A00001L6", Source: 0x1000, HasSource: true},
		{Type: DataTransfer, Address: 0x0101, Drive: "tape1"},
		{Type: Storage, Address: 0x1000},
		{Type: Storage, Address: 0x1001, Full: true, Barcode: "A00002L6"},
		{Type: Storage, Address: 0x1002, Full: true},
		{Type: Storage, Address: 0x1003},
	}
	if diff := cmp.Diff(want, c.Elements()); diff != "" {
		t.Fatalf("elements (-want +got):\n%s", diff)
	}
	if !c.PreventRemoval() {
		t.Fatal("prevent flag lost")
	}
}

func TestStateEmptyDocument(t *testing.T) {
	b, err := json.Marshal(New(Layout{}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"layout":{"drives":[],"slots":0,"importExport":0},"preventRemoval":false,"cartridges":[]}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestStateRejects(t *testing.T) {
	docs := map[string]string{
		"not json":        `{`,
		"version 0":       `{"version":0,"layout":{"slots":1},"cartridges":[]}`,
		"version 2":       `{"version":2,"layout":{"slots":1},"cartridges":[]}`,
		"bad layout":      `{"version":1,"layout":{"slots":-1}}`,
		"repeated drive":  `{"version":1,"layout":{"drives":["a","a"]}}`,
		"bad address":     `{"version":1,"layout":{"slots":1},"cartridges":[{"address":4097,"barcode":"X"}]}`,
		"twice":           `{"version":1,"layout":{"slots":1},"cartridges":[{"address":4096,"barcode":"X"},{"address":4096,"barcode":"Y"}]}`,
		"same barcode":    `{"version":1,"layout":{"slots":2},"cartridges":[{"address":4096,"barcode":"X"},{"address":4097,"barcode":"X"}]}`,
		"bad barcode":     `{"version":1,"layout":{"slots":1},"cartridges":[{"address":4096,"barcode":"a b"}]}`,
		"bad source":      `{"version":1,"layout":{"slots":1},"cartridges":[{"address":4096,"barcode":"X","source":9}]}`,
		"address too big": `{"version":1,"layout":{"slots":1},"cartridges":[{"address":65536,"barcode":"X"}]}`,
	}
	for name, doc := range docs {
		c := loaded(t)
		before := c.Elements()
		if err := c.UnmarshalJSON([]byte(doc)); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: err = %v, want ErrBadState", name, err)
		}
		if diff := cmp.Diff(before, c.Elements()); diff != "" {
			t.Errorf("%s: failed Unmarshal changed the changer:\n%s", name, diff)
		}
	}
}

// FuzzUnmarshalJSON checks that any document either fails cleanly or
// yields a changer whose own document reads back to the same state.
func FuzzUnmarshalJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Changer
		if err := c.UnmarshalJSON(b); err != nil {
			return
		}
		out, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again Changer
		if err := again.UnmarshalJSON(out); err != nil {
			t.Fatalf("own document %s rejected: %v", out, err)
		}
		if diff := cmp.Diff(c.Elements(), again.Elements()); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
