package disk

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/atomicfile"
)

// Snapshot errors callers tell apart.
var (
	ErrSnapshotExists   = errors.New("disk: snapshot already exists")
	ErrNoSnapshot       = errors.New("disk: no such snapshot")
	ErrSnapshotInvalid  = errors.New("disk: snapshot invalid")
	ErrSnapshotReleased = errors.New("disk: snapshot released")
	ErrBadSnapshot      = errors.New("disk: malformed snapshot record")
	ErrChangesUnknown   = errors.New("disk: changed blocks unknown (the change map may miss writes)")
	ErrBusy             = errors.New("disk: served by another process")
	ErrReadOnly         = errors.New("disk: read-only")
)

// SnapshotVersion is the snapshot record version this package writes; it
// reads every version up to it.
const SnapshotVersion = 1

// chunkSize is the unit of copy-on-write and change tracking: a write
// into a chunk preserves and marks the whole chunk.
const chunkSize = 4096

// Defaults for snapshots made without a limit or a lease.
const (
	DefaultCowPercent = 10
	DefaultLease      = 15 * time.Minute
)

// SnapshotState is where a snapshot is in its life (docs/disk.md,
// "Snapshots"): active (readable), then invalid (its copy-on-write area
// filled, or a crash left it unsure) or released (by its owner, or its
// lease expired). Only an active snapshot reads; every state keeps its
// change map.
type SnapshotState string

const (
	SnapshotActive   SnapshotState = "active"
	SnapshotInvalid  SnapshotState = "invalid"
	SnapshotReleased SnapshotState = "released"
)

// Snapshot describes one snapshot of a disk: its record,
// NAME.snap/SNAP.json.
type Snapshot struct {
	Version int           `json:"version"`
	Name    string        `json:"name"`
	Disk    string        `json:"disk"`
	ID      string        `json:"id"`  // 16 hex digits, random: tells two snapshots of one name apart
	Seq     uint64        `json:"seq"` // order among the disk's snapshots
	State   SnapshotState `json:"state"`
	Reason  string        `json:"reason,omitempty"` // why invalid or released
	Created time.Time     `json:"created"`
	Expires time.Time     `json:"expires"` // the lease: released when passed unless renewed
	Size    uint64        `json:"size"`    // the disk's size when taken
	// CowLimit caps the copy-on-write area in bytes; passing it
	// invalidates the snapshot.
	CowLimit int64 `json:"cow_limit"`
	// CowUsed is the copy-on-write area's use in bytes (preserved chunks
	// × 4096), as of the record's writing; Snapshots reports it live.
	CowUsed int64 `json:"cow_used"`
	// ChangesLost marks a change map that may miss writes (the machine
	// restarted while the disk was served): changed blocks from this
	// snapshot on are unknown.
	ChangesLost bool `json:"changes_lost,omitempty"`
}

// SnapshotOptions are the choices of a new snapshot.
type SnapshotOptions struct {
	// Name names the snapshot (the rules of disk names); empty picks
	// sSEQ.
	Name string
	// CowLimit caps the copy-on-write area in bytes; 0 is 10% of the
	// disk (at least one chunk).
	CowLimit int64
	// Lease is how long the snapshot lives unless renewed; 0 is 15
	// minutes.
	Lease time.Duration
}

// Extent is a run of logical blocks.
type Extent struct {
	LBA    uint64 `json:"lba"`
	Blocks uint64 `json:"blocks"`
}

// snap is a snapshot held by the tracker.
type snap struct {
	info  Snapshot // guarded by the tracker's mu; state mirrors State
	state atomic.Pointer[SnapshotState]
	exp   atomic.Int64 // Expires, Unix nanoseconds

	// pmu is shared by preservations and held to end the snapshot; it
	// guards info's changing fields (State, Reason, Expires, CowUsed,
	// ChangesLost), which are set one by one, never by copying info
	// whole, so its fixed fields read without it.
	pmu       sync.RWMutex
	cow       *os.File // NAME.snap/SNAP.cow; nil unless loaded active
	preserved *bitmap  // chunks copied to cow; nil unless loaded active
	changed   *bitmap  // chunks written from this snapshot until the next
	used      atomic.Int64
	stripes   [16]stripe // preservations of different chunks run at once
}

// stripe serializes the preservation of the chunks c with c%16 equal.
type stripe struct {
	mu  sync.Mutex
	buf []byte // a chunk
}

// initStripes gives each stripe its buffer.
func (s *snap) initStripes() {
	for i := range s.stripes {
		s.stripes[i].buf = make([]byte, chunkSize)
	}
}

// get returns the snapshot's description.
func (s *snap) get() Snapshot {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	info := s.info
	if *s.state.Load() == SnapshotActive {
		info.CowUsed = s.used.Load()
	}
	return info
}

func (s *snap) current() SnapshotState { return *s.state.Load() }

// tracker keeps a disk's snapshots while this process serves the disk:
// it holds an flock on the sidecar, so only one process tracks writes.
type tracker struct {
	d     *Disk
	dir   string // NAME.snap
	lock  *os.File
	clock func() time.Time

	// gate orders writes against a new snapshot: writes share it, and
	// taking a snapshot holds it, so the point in time is exact.
	gate  sync.RWMutex
	snaps atomic.Pointer[[]*snap] // by Seq; replaced, never changed

	mu sync.Mutex // snapshot creation, release, records
}

// snapDir is NAME.snap beside the sidecar.
func (d *Disk) snapDir() string { return strings.TrimSuffix(d.path, ".json") + ".snap" }

func (t *tracker) list() []*snap { return *t.snaps.Load() }

func (t *tracker) recordPath(name string) string { return filepath.Join(t.dir, name+".json") }
func (t *tracker) cowPath(name string) string    { return filepath.Join(t.dir, name+".cow") }
func (t *tracker) mapPath(name string) string    { return filepath.Join(t.dir, name+".cmap") }
func (t *tracker) chgPath(name string) string    { return filepath.Join(t.dir, name+".chg") }
func (t *tracker) openPath() string              { return filepath.Join(t.dir, "open") }

// chunks is the number of chunks of the disk.
func (t *tracker) chunks() uint64 { return (t.d.meta.Size + chunkSize - 1) / chunkSize }

// Snapshot freezes the disk's image now: later writes first copy the old
// contents of each chunk they touch to the snapshot's copy-on-write area.
func (d *Disk) Snapshot(opts SnapshotOptions) (Snapshot, error) {
	t, err := d.tracking()
	if err != nil {
		return Snapshot{}, err
	}
	return t.create(opts)
}

func (t *tracker) create(opts SnapshotOptions) (Snapshot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	snaps := t.list()
	seq := uint64(1)
	if len(snaps) > 0 {
		seq = snaps[len(snaps)-1].info.Seq + 1
	}
	name := opts.Name
	if name == "" {
		name = fmt.Sprintf("s%d", seq)
	}
	if err := checkName(name); err != nil || name == "open" {
		return Snapshot{}, fmt.Errorf("%w: snapshot %q", ErrBadName, name)
	}
	if slices.ContainsFunc(snaps, func(s *snap) bool { return s.info.Name == name }) {
		return Snapshot{}, fmt.Errorf("%w: %s", ErrSnapshotExists, name)
	}
	limit := opts.CowLimit
	if limit <= 0 {
		limit = max(int64(t.d.meta.Size)*DefaultCowPercent/100, chunkSize)
	}
	lease := opts.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	id := make([]byte, 8)
	rand.Read(id)
	now := t.clock().UTC()
	s := &snap{info: Snapshot{Version: SnapshotVersion, Name: name, Disk: t.d.meta.Name, ID: hex.EncodeToString(id),
		Seq: seq, State: SnapshotActive, Created: now, Expires: now.Add(lease), Size: t.d.meta.Size, CowLimit: limit}}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return Snapshot{}, err
	}
	if err := t.markOpen(); err != nil {
		return Snapshot{}, err
	}
	if err := t.makeFiles(s); err != nil {
		t.removeFiles(name, true)
		return Snapshot{}, err
	}
	t.gate.Lock() // no write in flight: the image is frozen here
	defer t.gate.Unlock()
	// The previous snapshot's changes end here: its change map file
	// takes those its copy-on-write map recorded.
	if len(snaps) > 0 {
		if err := snaps[len(snaps)-1].changed.flush(); err != nil {
			t.closeFiles(s)
			t.removeFiles(name, true)
			return Snapshot{}, err
		}
	}
	if err := t.writeRecord(s.info); err != nil {
		t.closeFiles(s)
		t.removeFiles(name, true)
		return Snapshot{}, err
	}
	s.setState(SnapshotActive)
	s.exp.Store(s.info.Expires.UnixNano())
	next := append(slices.Clone(snaps), s)
	t.snaps.Store(&next)
	return s.info, nil
}

// makeFiles creates a new snapshot's copy-on-write area (sparse, the
// disk's size, chunk n at n × 4096) and its two maps, durably.
func (t *tracker) makeFiles(s *snap) error {
	name := s.info.Name
	cow, err := os.OpenFile(t.cowPath(name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	s.cow = cow
	s.initStripes()
	if err := cow.Truncate(int64(t.d.meta.Size)); err != nil {
		return err
	}
	if s.preserved, err = createBitmap(t.mapPath(name), t.chunks()); err != nil {
		return err
	}
	if s.changed, err = createBitmap(t.chgPath(name), t.chunks()); err != nil {
		return err
	}
	for _, f := range []*os.File{cow, s.preserved.f, s.changed.f} {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// closeFiles closes whatever files s holds.
func (t *tracker) closeFiles(s *snap) {
	if s.cow != nil {
		s.cow.Close()
	}
	if s.preserved != nil {
		s.preserved.close()
	}
	if s.changed != nil {
		s.changed.close()
	}
}

// removeFiles deletes a snapshot's data (and, with all, its change map
// and record).
func (t *tracker) removeFiles(name string, all bool) error {
	paths := []string{t.cowPath(name), t.mapPath(name)}
	if all {
		paths = append(paths, t.chgPath(name), t.recordPath(name))
	}
	var errs []error
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *snap) setState(st SnapshotState) { s.state.Store(&st) }

// writeRecord replaces a snapshot's record atomically and durably.
func (t *tracker) writeRecord(info Snapshot) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return replaceFile(t.recordPath(info.Name), append(b, '\n'))
}

// replaceFile writes path through a temporary file, fsync and rename.
func replaceFile(path string, b []byte) error { return atomicfile.Write(path, b, 0o600) }

// end moves an active snapshot to invalid or released, recording it
// before anything stops being preserved (a killed process then never
// leaves an active record over data it no longer keeps), then frees the
// copy-on-write area. Callers hold s.pmu.
func (t *tracker) end(s *snap, st SnapshotState, reason string) error {
	if s.current() != SnapshotActive {
		return nil
	}
	// The change map takes over the changes the copy-on-write map
	// recorded, durably, before that map goes.
	if err := s.changed.flush(); err != nil {
		return err
	}
	info := s.info
	info.State, info.Reason, info.CowUsed = st, reason, s.used.Load()
	if err := t.writeRecord(info); err != nil {
		return err
	}
	s.info.State, s.info.Reason, s.info.CowUsed = st, reason, info.CowUsed
	s.setState(st)
	s.cow.Close()
	s.preserved.close()
	return t.removeFiles(info.Name, false)
}

// ReleaseSnapshot frees a snapshot's copy-on-write area; its change map
// stays, as the base of the next incremental (ChangedBlocks).
func (d *Disk) ReleaseSnapshot(name string) error {
	t, err := d.tracking()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.find(name)
	if err != nil {
		return err
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return t.end(s, SnapshotReleased, "released")
}

// ForgetSnapshot releases a snapshot and deletes its record and change
// map. Its changes join the previous snapshot's map, so changed blocks
// from an earlier snapshot stay whole.
func (d *Disk) ForgetSnapshot(name string) error {
	t, err := d.tracking()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.find(name)
	if err != nil {
		return err
	}
	s.pmu.Lock()
	err = t.end(s, SnapshotReleased, "forgotten")
	s.pmu.Unlock()
	if err != nil {
		return err
	}
	t.gate.Lock() // no write marks s's map while it moves
	defer t.gate.Unlock()
	snaps := t.list()
	i := slices.Index(snaps, s)
	if i > 0 {
		prev := snaps[i-1]
		for w := range s.changed.words {
			if v := s.changed.words[w].Load(); v != 0 {
				for b := range 64 {
					if v&(1<<b) != 0 {
						if err := prev.changed.set(uint64(w)*64 + uint64(b)); err != nil {
							return err
						}
					}
				}
			}
		}
		if s.get().ChangesLost {
			if err := t.markChangesLost(prev); err != nil {
				return err
			}
		}
		if err := prev.changed.f.Sync(); err != nil {
			return err
		}
	}
	next := slices.Delete(slices.Clone(snaps), i, i+1)
	t.snaps.Store(&next)
	s.changed.close()
	return t.removeFiles(s.info.Name, true)
}

// RenewSnapshot extends an active snapshot's lease to lease from now.
func (d *Disk) RenewSnapshot(name string, lease time.Duration) (Snapshot, error) {
	t, err := d.tracking()
	if err != nil {
		return Snapshot{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.find(name)
	if err != nil {
		return Snapshot{}, err
	}
	if err := t.usable(s); err != nil {
		return Snapshot{}, err
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	info := s.info
	info.Expires = t.clock().UTC().Add(lease)
	info.CowUsed = s.used.Load()
	if err := t.writeRecord(info); err != nil {
		return Snapshot{}, err
	}
	s.info.Expires, s.info.CowUsed = info.Expires, info.CowUsed
	s.exp.Store(info.Expires.UnixNano())
	return info, nil
}

// ExpireSnapshots releases the active snapshots whose lease has passed
// and returns their names. The serving target calls it now and then;
// reads of an expired snapshot fail even before.
func (d *Disk) ExpireSnapshots() ([]string, error) {
	t, err := d.tracking()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock().UnixNano()
	var names []string
	var errs []error
	for _, s := range t.list() {
		if s.current() != SnapshotActive || s.exp.Load() > now {
			continue
		}
		s.pmu.Lock()
		err := t.end(s, SnapshotReleased, "lease expired")
		s.pmu.Unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, s.info.Name)
	}
	return names, errors.Join(errs...)
}

// Snapshots lists the disk's snapshots, oldest first.
func (d *Disk) Snapshots() ([]Snapshot, error) {
	t, err := d.tracking()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Snapshot
	for _, s := range t.list() {
		out = append(out, s.get())
	}
	return out, nil
}

// find returns the snapshot name; callers hold t.mu.
func (t *tracker) find(name string) (*snap, error) {
	for _, s := range t.list() {
		if s.info.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: %s of disk %s", ErrNoSnapshot, name, t.d.meta.Name)
}

// usable says why s does not read, or nil.
func (t *tracker) usable(s *snap) error {
	switch s.current() {
	case SnapshotInvalid:
		return fmt.Errorf("%w: %s: %s", ErrSnapshotInvalid, s.info.Name, s.reason())
	case SnapshotReleased:
		return fmt.Errorf("%w: %s: %s", ErrSnapshotReleased, s.info.Name, s.reason())
	}
	if t.clock().UnixNano() >= s.exp.Load() {
		return fmt.Errorf("%w: %s: lease expired", ErrSnapshotReleased, s.info.Name)
	}
	return nil
}

// reason reads why the snapshot ended.
func (s *snap) reason() string {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	return s.info.Reason
}

// markChangesLost records that s's change map may miss writes.
func (t *tracker) markChangesLost(s *snap) error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.info.ChangesLost {
		return nil
	}
	info := s.info
	info.ChangesLost = true
	if err := t.writeRecord(info); err != nil {
		return err
	}
	s.info.ChangesLost = true
	return nil
}

// ChangedBlocks returns the blocks written between snapshot from and
// snapshot to, or from and now when to is empty, as extents in LBA
// order (4 KiB granularity: a write into a chunk marks the whole chunk).
// It fails with ErrChangesUnknown when a change map in between may miss
// writes; the caller then copies everything.
func (d *Disk) ChangedBlocks(from, to string) ([]Extent, error) {
	t, err := d.tracking()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, err := t.find(from)
	if err != nil {
		return nil, err
	}
	end := uint64(1<<64 - 1)
	if to != "" {
		b, err := t.find(to)
		if err != nil {
			return nil, err
		}
		if b.info.Seq < a.info.Seq {
			return nil, fmt.Errorf("disk: snapshot %s was taken before %s", to, from)
		}
		end = b.info.Seq
	}
	union := make([]uint64, wordsFor(t.chunks()))
	for _, s := range t.list() {
		if s.info.Seq < a.info.Seq || s.info.Seq >= end {
			continue
		}
		if s.get().ChangesLost {
			return nil, fmt.Errorf("%w: since snapshot %s", ErrChangesUnknown, s.info.Name)
		}
		s.changed.orInto(union)
	}
	return t.extents(union), nil
}

// extents turns a chunk bitmap into block extents, merging neighbours.
func (t *tracker) extents(words []uint64) []Extent {
	per := uint64(chunkSize / t.d.meta.BlockSize)
	blocks := t.d.Blocks()
	var out []Extent
	for c := uint64(0); c < t.chunks(); c++ {
		if words[c/64]&(1<<(c%64)) == 0 {
			continue
		}
		lba := c * per
		n := min(per, blocks-lba)
		if k := len(out); k > 0 && out[k-1].LBA+out[k-1].Blocks == lba {
			out[k-1].Blocks += n
			continue
		}
		out = append(out, Extent{LBA: lba, Blocks: n})
	}
	return out
}
