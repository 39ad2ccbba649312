package disk

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "a", 4096, Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan []Meta, 16)
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, dir, 5*time.Millisecond, func(m []Meta) { seen <- m }) }()
	want := func(names ...string) {
		t.Helper()
		select {
		case m := <-seen:
			if len(m) != len(names) {
				t.Fatalf("Watch reported %+v, want %v", m, names)
			}
			for i, n := range names {
				if m[i].Name != n {
					t.Fatalf("Watch reported %+v, want %v", m, names)
				}
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("Watch did not report %v", names)
		}
	}
	want("a")
	if _, err := Create(dir, "b", 4096, Options{}); err != nil {
		t.Fatal(err)
	}
	want("a", "b")
	os.Remove(sidecarPath(dir, "a"))
	want("b")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
	if len(seen) != 0 {
		t.Fatalf("Watch reported without a change: %+v", <-seen)
	}
}
