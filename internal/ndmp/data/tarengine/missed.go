package tarengine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// missedFiles remembers, per backup, the names it left out or stored
// incomplete (unreadable, vanished, changed while read), so the next
// incremental based on it stores them even when they did not change since:
// otherwise a file unreadable during the full would be missing from every
// restore of the chain until it changed. One file per backup that left
// something out: StateDir/tar-missed/HASH.json,
// {"version":1,"filesystem":DIR,"token":DUMP_DATE,"names":[...]}, HASH the
// SHA-256 of DIR and the token. docs/tar-engine.md.
type missedFiles struct {
	dir string
}

type missedFile struct {
	Version    int      `json:"version"`
	Filesystem string   `json:"filesystem"`
	Token      string   `json:"token"`
	Names      []string `json:"names"`
}

func (m *missedFiles) path(fs string, tok Token) string {
	h := sha256.Sum256([]byte(fs + "\x00" + tok.String()))
	return filepath.Join(m.dir, hex.EncodeToString(h[:16])+".json")
}

// save records what the backup of fs with DUMP_DATE tok left out.
func (m *missedFiles) save(fs string, tok Token, names []string) error {
	if m == nil || len(names) == 0 {
		return nil
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(missedFile{Version: 1, Filesystem: fs, Token: tok.String(), Names: names})
	if err != nil {
		return err
	}
	p := m.path(fs, tok)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// load returns what the backup of fs with DUMP_DATE tok left out (nil when
// it left nothing out, or this agent did not make it).
func (m *missedFiles) load(fs string, tok Token) (map[string]bool, error) {
	if m == nil {
		return nil, nil
	}
	b, err := os.ReadFile(m.path(fs, tok))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f missedFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 || f.Filesystem != fs || f.Token != tok.String() {
		return nil, fmt.Errorf("tarengine: %s is not the list of files backup %s of %s left out", m.path(fs, tok), tok, fs)
	}
	set := make(map[string]bool, len(f.Names))
	for _, n := range f.Names {
		set[n] = true
	}
	return set, nil
}
