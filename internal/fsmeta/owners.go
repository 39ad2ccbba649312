package fsmeta

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Owners maps user and group ids to names and back, from passwd and group files
// read once on first use. It is safe for concurrent use.
type Owners struct {
	dir  string
	once sync.Once
	uids map[int]string
	gids map[int]string
	unam map[string]int
	gnam map[string]int
}

// NewOwners returns Owners reading dir/passwd and dir/group ("/etc" normally).
// Missing or unreadable files leave every id without a name.
func NewOwners(dir string) *Owners { return &Owners{dir: dir} }

func (o *Owners) load() {
	o.uids, o.unam = readIDFile(filepath.Join(o.dir, "passwd"))
	o.gids, o.gnam = readIDFile(filepath.Join(o.dir, "group"))
}

// readIDFile parses "name:x:id:..." lines; the first entry of a name or id wins.
func readIDFile(path string) (map[int]string, map[string]int) {
	byID, byName := map[int]string{}, map[string]int{}
	f, err := os.Open(path)
	if err != nil {
		return byID, byName
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 4)
		if len(fields) < 3 || fields[0] == "" || strings.HasPrefix(fields[0], "#") {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil || id < 0 {
			continue
		}
		if _, ok := byID[id]; !ok {
			byID[id] = fields[0]
		}
		if _, ok := byName[fields[0]]; !ok {
			byName[fields[0]] = id
		}
	}
	return byID, byName
}

// User returns the name of uid, "" when unknown.
func (o *Owners) User(uid int) string { o.once.Do(o.load); return o.uids[uid] }

// Group returns the name of gid, "" when unknown.
func (o *Owners) Group(gid int) string { o.once.Do(o.load); return o.gids[gid] }

// UserID returns the uid of a user name.
func (o *Owners) UserID(name string) (int, bool) {
	o.once.Do(o.load)
	id, ok := o.unam[name]
	return id, ok
}

// GroupID returns the gid of a group name.
func (o *Owners) GroupID(name string) (int, bool) {
	o.once.Do(o.load)
	id, ok := o.gnam[name]
	return id, ok
}
