package disk

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// bootIDPath names this boot of the machine: a crash that kept the page
// cache (a killed process) is told apart from one that lost it.
var bootIDPath = "/proc/sys/kernel/random/boot_id"

func bootID() string {
	b, _ := os.ReadFile(bootIDPath)
	return strings.TrimSpace(string(b))
}

// openTracker takes the disk's tracking lock and loads its snapshots. It
// returns nil, nil when another process holds the lock.
func openTracker(d *Disk, clock func() time.Time) (*tracker, error) {
	lock, err := os.Open(d.path)
	if err != nil {
		return nil, err
	}
	if ok, err := tryLock(lock); err != nil || !ok {
		lock.Close()
		return nil, err
	}
	t := &tracker{d: d, dir: d.snapDir(), lock: lock, clock: clock}
	if err := t.load(); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// load reads the records in NAME.snap. When the last process to track
// the disk did not close it cleanly across a restart of the machine,
// the page cache that held the copy-on-write data and the maps may be
// lost: its active snapshots become invalid and the newest change map
// is marked lost.
func (t *tracker) load() error {
	paths, err := filepath.Glob(filepath.Join(t.dir, "*.json"))
	if err != nil {
		return err
	}
	var snaps []*snap
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), ".") {
			continue
		}
		info, err := readSnapshot(p)
		if err != nil {
			return err
		}
		snaps = append(snaps, &snap{info: info})
	}
	slices.SortFunc(snaps, func(a, b *snap) int { return cmp.Compare(a.info.Seq, b.info.Seq) })
	lost := false
	if b, err := os.ReadFile(t.openPath()); err == nil {
		id := bootID()
		lost = id == "" || strings.TrimSpace(string(b)) != id
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i, s := range snaps {
		if err := t.loadOne(s, lost, i == len(snaps)-1); err != nil {
			for _, o := range snaps[:i] {
				t.closeFiles(o)
			}
			return err
		}
	}
	t.snaps.Store(&snaps)
	if len(snaps) > 0 {
		return t.markOpen()
	}
	return nil
}

// loadOne opens a snapshot's files; lost says a crash may have lost
// page-cache writes.
func (t *tracker) loadOne(s *snap, lost, newest bool) error {
	var err error
	name := s.info.Name
	if s.info.Size != t.d.meta.Size {
		return fmt.Errorf("%w: %s of %s was taken at %d bytes, the disk has %d", ErrBadSnapshot, name, t.d.meta.Name, s.info.Size, t.d.meta.Size)
	}
	if s.changed, err = openBitmap(t.chgPath(name), t.chunks()); err != nil {
		return fmt.Errorf("disk: snapshot %s of %s: %w", name, t.d.meta.Name, err)
	}
	if lost && newest && !s.info.ChangesLost {
		s.info.ChangesLost = true
		if err := t.writeRecord(s.info); err != nil {
			return err
		}
	}
	s.setState(s.info.State)
	s.exp.Store(s.info.Expires.UnixNano())
	if s.info.State != SnapshotActive {
		return nil
	}
	if !lost {
		s.cow, err = os.OpenFile(t.cowPath(name), os.O_RDWR, 0)
		if err == nil {
			s.preserved, err = openBitmap(t.mapPath(name), t.chunks())
		}
		if err == nil {
			s.initStripes()
			s.used.Store(s.preserved.count() * chunkSize)
			if newest {
				s.changed.orMemory(s.preserved) // recorded there, not in its change map
			}
			return nil
		}
		if s.cow != nil {
			s.cow.Close()
		}
	}
	// Unsure: invalidate rather than serve an image that may be wrong.
	s.cow, s.preserved = nil, nil
	s.info.State, s.info.Reason = SnapshotInvalid, "the target stopped uncleanly across a machine restart"
	if err != nil {
		s.info.Reason = fmt.Sprintf("copy-on-write area unreadable: %v", err)
	}
	s.setState(SnapshotInvalid)
	if err := t.writeRecord(s.info); err != nil {
		return err
	}
	return t.removeFiles(name, false)
}

// readSnapshot reads and checks a snapshot record.
func readSnapshot(path string) (Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Snapshot{}, err
	}
	return parseSnapshot(b, strings.TrimSuffix(filepath.Base(path), ".json"))
}

// parseSnapshot decodes a record named name.
func parseSnapshot(b []byte, name string) (Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %s: %v", ErrBadSnapshot, name, err)
	}
	switch {
	case s.Version < 1:
		return Snapshot{}, fmt.Errorf("%w: %s: version %d", ErrBadSnapshot, name, s.Version)
	case s.Version > SnapshotVersion:
		return Snapshot{}, fmt.Errorf("%w: snapshot %s: %d", ErrVersion, name, s.Version)
	case s.Name != name || checkName(s.Name) != nil:
		return Snapshot{}, fmt.Errorf("%w: %s names snapshot %q", ErrBadSnapshot, name, s.Name)
	case s.State != SnapshotActive && s.State != SnapshotInvalid && s.State != SnapshotReleased:
		return Snapshot{}, fmt.Errorf("%w: %s: state %q", ErrBadSnapshot, name, s.State)
	case s.Seq == 0 || s.Size == 0 || s.Size%512 != 0 || s.CowLimit < 0 || s.CowUsed < 0:
		return Snapshot{}, fmt.Errorf("%w: %s: seq %d, size %d, cow limit %d", ErrBadSnapshot, name, s.Seq, s.Size, s.CowLimit)
	}
	return s, nil
}

// markOpen records, durably, that this boot of the machine tracks the
// disk; a clean close removes it.
func (t *tracker) markOpen() error {
	if _, err := os.Stat(t.openPath()); err == nil {
		return nil
	}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return err
	}
	return replaceFile(t.openPath(), []byte(bootID()+"\n"))
}

// beforeWrite runs before n bytes at off change (a write or a
// deallocation): the newest snapshot's change map marks the chunks, and
// each active snapshot preserves those it has not yet. Callers hold
// t.gate shared until their write is done. A snapshot that cannot
// preserve becomes invalid; the write itself always goes on.
func (t *tracker) beforeWrite(off, n int64) {
	snaps := t.list()
	if len(snaps) == 0 || n <= 0 {
		return
	}
	first, last := uint64(off)/chunkSize, uint64(off+n-1)/chunkSize
	newest := snaps[len(snaps)-1]
	for c := first; c <= last; c++ {
		if newest.changed.has(c) {
			continue
		}
		// While the newest snapshot is active, its copy-on-write map
		// records the change too: one file write, not two.
		if newest.current() == SnapshotActive {
			t.preserve(newest, c, true)
			if newest.changed.has(c) {
				continue
			}
		}
		if err := newest.changed.set(c); err != nil {
			t.loseChanges(newest, err)
			break
		}
	}
	for _, s := range snaps[:len(snaps)-1] {
		if s.current() != SnapshotActive {
			continue
		}
		for c := first; c <= last; c++ {
			if !s.preserved.has(c) {
				t.preserve(s, c, false)
			}
		}
	}
}

// preserve copies chunk c of the image to s's copy-on-write area before
// it is overwritten. A chunk of zeros is not copied (the area's hole
// reads as zeros), but counts towards the limit like any other. For the
// newest snapshot the preserved chunk also counts as changed.
func (t *tracker) preserve(s *snap, c uint64, newest bool) {
	if reason := t.copyChunk(s, c, newest); reason != "" {
		// Recorded invalid before this write (and any other that found
		// the area full) goes on unpreserved.
		s.pmu.Lock()
		t.end(s, SnapshotInvalid, reason)
		s.pmu.Unlock()
	}
}

// copyChunk does preserve's work; it returns why the snapshot must end,
// or "".
func (t *tracker) copyChunk(s *snap, c uint64, newest bool) string {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	if s.current() != SnapshotActive || s.preserved.has(c) {
		return ""
	}
	st := &s.stripes[c%uint64(len(s.stripes))]
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.preserved.has(c) {
		return ""
	}
	if s.used.Add(chunkSize) > s.info.CowLimit {
		return fmt.Sprintf("copy-on-write area full (%d bytes)", s.info.CowLimit)
	}
	off := int64(c) * chunkSize
	buf := st.buf[:min(chunkSize, int64(t.d.meta.Size)-off)]
	if err := readFull(t.d.f, buf, off); err != nil {
		return fmt.Sprintf("reading the image: %v", err)
	}
	if !allZero(buf) {
		if _, err := s.cow.WriteAt(buf, off); err != nil {
			return fmt.Sprintf("writing the copy-on-write area: %v", err)
		}
	}
	if err := s.preserved.set(c); err != nil {
		return fmt.Sprintf("writing the copy-on-write map: %v", err)
	}
	if newest {
		s.changed.setMemory(c) // the copy-on-write map records it until end
	}
	return ""
}

// loseChanges marks s's change map as missing writes.
func (t *tracker) loseChanges(s *snap, cause error) {
	if err := t.markChangesLost(s); err != nil {
		// Not even the record: the snapshots cannot be trusted.
		for _, o := range t.list() {
			o.pmu.Lock()
			t.end(o, SnapshotInvalid, fmt.Sprintf("change map unwritable: %v", cause))
			o.pmu.Unlock()
		}
	}
}

var zeroChunk [chunkSize]byte

func allZero(b []byte) bool { return bytes.Equal(b, zeroChunk[:len(b)]) }

// readFull reads len(p) bytes at off; past the file's end reads zeros.
func readFull(f *os.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if err == io.EOF {
		clear(p[n:])
		return nil
	}
	return err
}

// close makes the snapshots' files durable, removes the open marker (the
// next tracker then trusts them) and drops the lock.
func (t *tracker) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	snaps := t.snaps.Load()
	if snaps != nil {
		for _, s := range *snaps {
			s.pmu.Lock()
			files := []*os.File{s.changed.f}
			if s.current() == SnapshotActive {
				files = append(files, s.cow, s.preserved.f)
			}
			for _, f := range files {
				errs = append(errs, f.Sync())
			}
			t.closeFiles(s)
			s.pmu.Unlock()
		}
	}
	if err := errors.Join(errs...); err == nil {
		if err := os.Remove(t.openPath()); err == nil {
			errs = append(errs, syncDir(t.dir))
		}
	}
	errs = append(errs, t.lock.Close())
	return errors.Join(errs...)
}

// tracking returns the disk's tracker, or ErrBusy when another process
// serves the disk.
func (d *Disk) tracking() (*tracker, error) {
	if d.trk == nil {
		return nil, fmt.Errorf("%w: %s (its snapshots are managed there)", ErrBusy, d.meta.Name)
	}
	return d.trk, nil
}
