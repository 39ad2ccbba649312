package disk

import (
	"context"
	"slices"
	"time"
)

// Watch calls fn with the disks in dir, then again whenever the set
// changes (a disk created, attached or removed, by this process or
// another), looking every interval, until ctx is done; it returns
// ctx's error. A running target uses it to serve new disks and raise
// REPORTED LUNS DATA HAS CHANGED. Sidecars that do not parse are left
// out, as List leaves them out.
func Watch(ctx context.Context, dir string, every time.Duration, fn func([]Meta)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var last []Meta
	first := true
	for {
		disks, _ := List(dir)
		if first || !sameSet(last, disks) {
			fn(disks)
			last, first = disks, false
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// sameSet reports whether two listings name the same disks (by name,
// index and NAA: a disk removed and created again under its name is a
// different disk).
func sameSet(a, b []Meta) bool {
	return slices.EqualFunc(a, b, func(x, y Meta) bool {
		return x.Name == y.Name && x.Index == y.Index && x.NAA == y.NAA
	})
}
