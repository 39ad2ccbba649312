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
}

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
	tmp, err := os.CreateTemp(dir, ".target-*.json")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), l.TargetState())
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
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
