package node

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/atomicfile"
	"ferry/internal/iscsi/target"
)

// TargetState is STATE/iscsi/target.json (docs/iscsi-target.md, "State"):
// the target's IQN, made once and kept so initiators find the same target
// after a restart, its ACL, and the unit serial numbers of the library's
// logical units (each LU's NAA designator derives from its serial, so two
// nodes never show the same tape0). The file holds CHAP secrets and is
// mode 0600.
type TargetState struct {
	Version int        `json:"version"`
	Name    string     `json:"name"`
	ACL     []ACLEntry `json:"acl,omitempty"`
	// Serials are the unit serial numbers of the changer and drives, by
	// device name; made on first use (and for state files from before
	// they were kept).
	Serials map[string]string `json:"serials,omitempty"`
	// SnapshotLUs are the LUs of the disks' live snapshots, by snapshot
	// ID (disk.Snapshot.ID); an entry goes when its snapshot ends.
	SnapshotLUs map[string]SnapshotLU `json:"snapshot_lus,omitempty"`
	// LibraryLUNs are the LUNs of library units beyond the fixed ones
	// (the changer on 0, its first four drives on 1..4), by
	// "CHANGER/DRIVE": made when first served and kept, so they never move.
	LibraryLUNs map[string]uint64 `json:"library_luns,omitempty"`
}

// Serial returns the unit serial number of the library device name,
// making one if it has none yet; made reports that the state changed.
func (s *TargetState) Serial(name string) (serial string, made bool) {
	if sn, ok := s.Serials[name]; ok {
		return sn, false
	}
	if s.Serials == nil {
		s.Serials = map[string]string{}
	}
	rnd := make([]byte, 6)
	rand.Read(rnd)
	sn := "FRY" + strings.ToUpper(hex.EncodeToString(rnd))
	s.Serials[name] = sn
	return sn, true
}

// ACLEntry is one initiator allowed to log in, and the logical units it
// sees: the disks it names (by disk name) and the libraries (changer and
// drives, by the changer's name: changer0). An entry naming neither sees
// every LU, as entries from before LUN masking do.
type ACLEntry struct {
	Initiator  string   `json:"initiator"`
	CHAPSecret string   `json:"chap_secret,omitempty"`
	Disks      []string `json:"disks,omitempty"`
	Libraries  []string `json:"libraries,omitempty"`
	// Remotes are the other targets the copy manager may reach for this
	// initiator's EXTENDED COPY (docs/xcopy.md, "Foreign targets"): no
	// other target is ever dialled on its behalf.
	Remotes []RemoteTarget `json:"remotes,omitempty"`
}

// RemoteTarget is another iSCSI target an initiator's EXTENDED COPY may
// name: by its portal (an E5h or EAh descriptor), or by the designators
// listed (an E4h descriptor no local LU carries). The copy manager logs
// in as the target's own IQN, with CHAP when a secret is set.
type RemoteTarget struct {
	Portal     string `json:"portal"` // IP:port, [IPv6]:port
	IQN        string `json:"iqn"`
	CHAPUser   string `json:"chap_user,omitempty"` // default: this target's IQN
	CHAPSecret string `json:"chap_secret,omitempty"`
	// Designators are the LU designators (hex, as VPD page 0x83 carries
	// them) E4h descriptors may find on this target.
	Designators []string `json:"designators,omitempty"`
}

// Name is the remote as ferry target ls prints it: PORTAL/IQN.
func (r RemoteTarget) Name() string { return r.Portal + "/" + r.IQN }

// Masked reports whether the entry limits the LUs its initiator sees.
func (a ACLEntry) Masked() bool { return len(a.Disks) > 0 || len(a.Libraries) > 0 }

// LoadTargetState reads the target state, creating it with a new IQN on
// first use.
func LoadTargetState(l Layout) (*TargetState, error) {
	path := l.TargetState()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s := &TargetState{Version: 1, Name: NewIQN()}
		return s, s.Save(l)
	}
	if err != nil {
		return nil, fmt.Errorf("iscsi target state: %w", err)
	}
	var s TargetState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("iscsi target state %s: %w", path, err)
	}
	if s.Version != 1 || s.Name == "" {
		return nil, fmt.Errorf("iscsi target state %s: unsupported version %d or no name", path, s.Version)
	}
	return &s, nil
}

// Save writes the state atomically, mode 0600.
func (s *TargetState) Save(l Layout) error {
	dir := filepath.Dir(l.TargetState())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(l.TargetState(), append(b, '\n'), 0o600)
}

// NewIQN makes a target name unique to this state directory:
// iqn.2026-01.dev.ferry:HOST-RANDOM.
func NewIQN() string {
	host, _ := os.Hostname()
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("ferry")
	}
	rnd := make([]byte, 4)
	rand.Read(rnd)
	return "iqn.2026-01.dev.ferry:" + b.String() + "-" + hex.EncodeToString(rnd)
}

// TargetConfig returns the Name and ACL of target.Config from the state
// directory; the node fills in Units and Logger.
func TargetConfig(l Layout) (target.Config, error) {
	s, err := LoadTargetState(l)
	if err != nil {
		return target.Config{}, err
	}
	return s.Config(), nil
}

// Config returns the Name and ACL of target.Config.
func (s *TargetState) Config() target.Config {
	cfg := target.Config{Name: s.Name}
	for _, a := range s.ACL {
		in := target.Initiator{Name: a.Initiator}
		if a.CHAPSecret != "" {
			in.Secret = []byte(a.CHAPSecret)
		}
		cfg.ACL = append(cfg.ACL, in)
	}
	return cfg
}

// Where the target serves the disks' snapshots: above every disk LUN
// (disk indexes end at 0x3FFF-256, so disk LUNs at 0x3F04).
const (
	firstSnapshotLUN = 0x3F05
	lastSnapshotLUN  = 0x3FFF
)

// SnapshotLU is the logical unit of a disk's live snapshot: its LUN,
// unit serial number and NAA designator (16 hex digits, NAA 3), made when
// the snapshot is first served and kept until it ends, so an EXTENDED
// COPY names it by its E4h designator across a restart of the target.
type SnapshotLU struct {
	Disk     string `json:"disk"`
	Snapshot string `json:"snapshot"`
	LUN      uint64 `json:"lun"`
	Serial   string `json:"serial"`
	NAA      string `json:"naa"`
}

// errNoSnapshotLUN: every snapshot LUN is taken.
var errNoSnapshotLUN = errors.New("iscsi target: no free snapshot LUN")

// snapshotLU returns the LU of the snapshot id, making one on the
// smallest free snapshot LUN if it has none; made reports that the state
// changed.
func (s *TargetState) snapshotLU(id, disk, snap string) (lu SnapshotLU, made bool, err error) {
	if lu, ok := s.SnapshotLUs[id]; ok {
		return lu, false, nil
	}
	used := s.highLUNs()
	lun := uint64(firstSnapshotLUN)
	for used[lun] {
		lun++
	}
	if lun > lastSnapshotLUN {
		return SnapshotLU{}, false, errNoSnapshotLUN
	}
	rnd := make([]byte, 14)
	rand.Read(rnd)
	rnd[6] = 0x30 | rnd[6]&0x0F
	lu = SnapshotLU{Disk: disk, Snapshot: snap, LUN: lun,
		Serial: "FRY" + strings.ToUpper(hex.EncodeToString(rnd[:6])), NAA: hex.EncodeToString(rnd[6:])}
	if s.SnapshotLUs == nil {
		s.SnapshotLUs = map[string]SnapshotLU{}
	}
	s.SnapshotLUs[id] = lu
	return lu, true, nil
}

// highLUNs returns the LUNs of the high range (above every disk LUN) that
// snapshots and library units hold.
func (s *TargetState) highLUNs() map[uint64]bool {
	used := map[uint64]bool{}
	for _, lu := range s.SnapshotLUs {
		used[lu.LUN] = true
	}
	for _, lun := range s.LibraryLUNs {
		used[lun] = true
	}
	return used
}

// errNoLibraryLUN: the high range has no LUN left for a library unit.
var errNoLibraryLUN = errors.New("iscsi target: no free LUN for a library unit")

// libraryLUN returns the LUN of the unit unit (a drive) of the library
// whose changer is changer, taking the highest free LUN of the high range
// if it has none: library units grow down from 0x3FFF, snapshots up from
// 0x3F05, and neither moves once given. made reports that the state
// changed.
func (s *TargetState) libraryLUN(changer, unit string) (lun uint64, made bool, err error) {
	key := changer + "/" + unit
	if lun, ok := s.LibraryLUNs[key]; ok {
		return lun, false, nil
	}
	used := s.highLUNs()
	lun = lastSnapshotLUN
	for used[lun] && lun >= firstSnapshotLUN {
		lun--
	}
	if lun < firstSnapshotLUN {
		return 0, false, fmt.Errorf("%w: %s", errNoLibraryLUN, key)
	}
	if s.LibraryLUNs == nil {
		s.LibraryLUNs = map[string]uint64{}
	}
	s.LibraryLUNs[key] = lun
	return lun, true, nil
}
