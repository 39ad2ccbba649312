package tarengine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is an incremental backup token (DUMP_DATE out, BASE_DATE in). It is
// self-contained: the time the backup started reading the file system, to the
// nanosecond, and its level. A backup given BASE_DATE=T stores what changed
// (ctime) at or after T.Start, so a chain of any length works: each backup's
// DUMP_DATE is the next one's BASE_DATE.
//
// Text form: "ferry1:<unix nanoseconds>:<level>". A plain decimal number is
// taken as Unix seconds (a DMA's own date).
type Token struct {
	Start time.Time
	Level int
}

// ErrToken reports a BASE_DATE this engine cannot read.
var ErrToken = errors.New("tarengine: bad incremental token")

// String is the token's text form.
func (t Token) String() string {
	return fmt.Sprintf("ferry1:%d:%d", t.Start.UnixNano(), t.Level)
}

// ParseToken reads a token's text form.
func ParseToken(s string) (Token, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) { // beyond what nanoseconds hold
			return Token{}, fmt.Errorf("%w: %q", ErrToken, s)
		}
		return Token{Start: time.Unix(n, 0)}, nil
	}
	f := strings.Split(s, ":")
	if len(f) != 3 || f[0] != "ferry1" {
		return Token{}, fmt.Errorf("%w: %q", ErrToken, s)
	}
	ns, err1 := strconv.ParseInt(f[1], 10, 64)
	lvl, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || ns < 0 || lvl < 0 {
		return Token{}, fmt.Errorf("%w: %q", ErrToken, s)
	}
	return Token{Start: time.Unix(0, ns), Level: lvl}, nil
}

// dumpdates is the agent's record of LEVEL backups per file system (for
// DMAs that send LEVEL without BASE_DATE): StateDir/tar-dumpdates.json,
// {"version":1,"filesystems":{"/export/a":{"0":"ferry1:...","1":"..."}}}.
type dumpdates struct {
	mu   sync.Mutex
	path string
}

type dumpdatesFile struct {
	Version     int                          `json:"version"`
	Filesystems map[string]map[string]string `json:"filesystems"`
}

func (d *dumpdates) load() (dumpdatesFile, error) {
	f := dumpdatesFile{Version: 1, Filesystems: map[string]map[string]string{}}
	b, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("tarengine: %s: %w", d.path, err)
	}
	if f.Filesystems == nil {
		f.Filesystems = map[string]map[string]string{}
	}
	return f, nil
}

// base returns the newest token of a level below level for fs; ok false
// when there is none (the backup is then a full one).
func (d *dumpdates) base(fs string, level int) (Token, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := d.load()
	if err != nil {
		return Token{}, false, err
	}
	var best Token
	found := false
	for l := 0; l < level; l++ {
		s, ok := f.Filesystems[fs][strconv.Itoa(l)]
		if !ok {
			continue
		}
		t, err := ParseToken(s)
		if err == nil && (!found || t.Start.After(best.Start)) {
			best, found = t, true
		}
	}
	return best, found, nil
}

// record stores tok for fs at its level and drops higher levels (they are
// based on an older backup now), written atomically.
func (d *dumpdates) record(fs string, tok Token) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := d.load()
	if err != nil {
		return err
	}
	m := f.Filesystems[fs]
	if m == nil {
		m = map[string]string{}
		f.Filesystems[fs] = m
	}
	for l := tok.Level; l <= 9; l++ {
		delete(m, strconv.Itoa(l))
	}
	m[strconv.Itoa(tok.Level)] = tok.String()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(d.path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.path)
}
