// Package view is the JSON shape of what ferry shows: backups, files,
// jobs and their logs, cartridges, changer elements, agents. The CLI's
// --json prints these, and an HTTP API is to serve the same; field names
// are an interface scripts depend on: add fields, never rename them.
package view

import (
	"slices"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/changer"
	"ferry/internal/volume"
)

// Agent is a registered NDMP agent.
type Agent struct {
	Name    string    `json:"name"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
}

// AgentOf is the view of a.
func AgentOf(a catalog.Agent) Agent { return Agent{a.Name, a.URL, a.Created} }

// Location is where a piece of a backup image is on tape.
type Location struct {
	Barcode    string `json:"barcode"`
	File       int    `json:"file"`
	RecordSize int    `json:"record_size"`
	Offset     int64  `json:"offset"`
	Length     int64  `json:"length"`
}

// Backup is one backup.
type Backup struct {
	ID        int64         `json:"id"`
	Agent     string        `json:"agent"`
	Path      string        `json:"path"`
	Level     int           `json:"level"`
	BaseID    int64         `json:"base_id,omitempty"`
	Status    string        `json:"status"`
	Started   time.Time     `json:"started"`
	Ended     *time.Time    `json:"ended,omitempty"`
	Files     int64         `json:"files"`
	Bytes     int64         `json:"bytes"`
	DumpDate  string        `json:"dump_date,omitempty"`
	Error     string        `json:"error,omitempty"`
	Env       []catalog.Env `json:"env,omitempty"`
	Locations []Location    `json:"locations"`
	// Warnings are what the agents reported not backing up (status
	// completed_with_warnings).
	Warnings []string `json:"warnings,omitempty"`
}

// BackupOf is the view of b.
func BackupOf(b catalog.Backup) Backup {
	o := Backup{ID: b.ID, Agent: b.Agent, Path: b.Path, Level: b.Level, BaseID: b.BaseID, Status: b.Status,
		Started: b.Started, Files: b.Files, Bytes: b.Bytes, DumpDate: b.DumpDate, Error: b.Error, Env: b.Env,
		Locations: []Location{}}
	if !b.Ended.IsZero() {
		o.Ended = &b.Ended
	}
	for _, l := range b.Locations {
		o.Locations = append(o.Locations, Location{l.Barcode, l.FileNum, l.RecordSize, l.Offset, l.Length})
	}
	return o
}

// File is one file of a backup.
type File struct {
	Backup int64     `json:"backup"`
	Path   string    `json:"path"`
	Type   string    `json:"type"`
	Mode   uint32    `json:"mode"`
	UID    uint32    `json:"uid"`
	GID    uint32    `json:"gid"`
	Size   uint64    `json:"size"`
	Mtime  time.Time `json:"mtime"`
}

// FileOf is the view of file f of backup id.
func FileOf(id int64, f catalog.File) File {
	return File{id, f.Path, FileTypeName(f.Type), f.Mode & 0o7777, f.UID, f.GID, f.Size, f.Mtime}
}

// FileTypeName names an NDMP file type.
func FileTypeName(t catalog.FileType) string {
	switch t {
	case catalog.TypeDir:
		return "dir"
	case catalog.TypeReg:
		return "file"
	case catalog.TypeSymlink:
		return "symlink"
	case catalog.TypeFIFO:
		return "fifo"
	case catalog.TypeCharDev:
		return "chardev"
	case catalog.TypeBlkDev:
		return "blockdev"
	case catalog.TypeSocket:
		return "socket"
	}
	return "other"
}

// Job is one job.
type Job struct {
	ID       int64      `json:"id"`
	Kind     string     `json:"kind"`
	State    string     `json:"state"`
	PID      int        `json:"pid,omitempty"`
	Started  time.Time  `json:"started"`
	Ended    *time.Time `json:"ended,omitempty"`
	BackupID int64      `json:"backup_id,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// JobOf is the view of j.
func JobOf(j catalog.Job) Job {
	o := Job{ID: j.ID, Kind: j.Kind, State: j.State, PID: j.PID, Started: j.Started, BackupID: j.BackupID, Error: j.Error}
	if !j.Ended.IsZero() {
		o.Ended = &j.Ended
	}
	return o
}

// TapeFile is one tape file of a scanned cartridge.
type TapeFile struct {
	File    int             `json:"file"`
	Header  *volume.Header  `json:"header,omitempty"`
	Trailer *volume.Trailer `json:"trailer,omitempty"`
	Damage  string          `json:"damage,omitempty"` // why the file could not be read
}

// LogLine is one line of a job's log.
type LogLine struct {
	At      time.Time `json:"at"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// Medium is one cartridge with the backups that have a piece on it.
type Medium struct {
	Barcode  string    `json:"barcode"`
	Library  string    `json:"library"`
	Pool     string    `json:"pool"`
	State    string    `json:"state"`
	Used     int64     `json:"used"`
	NextFile int       `json:"next_file"`
	Backups  []int64   `json:"backups"`
	Updated  time.Time `json:"updated"`
}

// MediumOf is the view of m with the backups that have a piece on it
// (locs, as catalog.OnMedium lists them).
func MediumOf(m catalog.Medium, locs []catalog.Location) Medium {
	v := Medium{Barcode: m.Barcode, Library: m.Library, Pool: m.Pool, State: string(m.State), Used: m.Used,
		NextFile: m.NextFile, Backups: []int64{}, Updated: m.Updated}
	for _, l := range locs {
		if !slices.Contains(v.Backups, l.BackupID) {
			v.Backups = append(v.Backups, l.BackupID)
		}
	}
	return v
}

// Verify is the outcome of a verify.
type Verify struct {
	Backup      int64    `json:"backup"`
	Entries     int      `json:"entries"`
	Bytes       int64    `json:"bytes"`
	Read        int64    `json:"read"`
	Differences int      `json:"differences"`
	Mismatches  []string `json:"mismatches"`
	Checksummed int      `json:"checksummed"`
	OK          bool     `json:"ok"`
	Error       string   `json:"error,omitempty"`
}

// Restore is the outcome of a restore.
type Restore struct {
	Backup   int64   `json:"backup"`
	Chain    []int64 `json:"chain"`
	To       string  `json:"to"`
	Restored int     `json:"restored"`
	Skipped  int     `json:"skipped"`
	Failed   int     `json:"failed"`
	Removed  int     `json:"removed"`
	Bytes    int64   `json:"bytes"`
	Read     int64   `json:"read"`
	Error    string  `json:"error,omitempty"`
}

// Element is one element of a changer.
type Element struct {
	Address uint16 `json:"address"`
	Type    string `json:"type"`
	Drive   string `json:"drive,omitempty"`
	Full    bool   `json:"full"`
	Barcode string `json:"barcode,omitempty"`
	Source  *int   `json:"source,omitempty"`
}

// ElementsOf is the view of a changer's elements.
func ElementsOf(elems []changer.Element) []Element {
	out := make([]Element, 0, len(elems))
	for _, e := range elems {
		j := Element{Address: e.Address, Type: e.Type.String(), Drive: e.Drive, Full: e.Full, Barcode: e.Barcode}
		if e.HasSource {
			src := int(e.Source)
			j.Source = &src
		}
		out = append(out, j)
	}
	return out
}

// Token is a management API token as ls shows it: never the token, nor
// its hash.
type Token struct {
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	ReadOnly bool      `json:"read_only"`
}

// Library is a tape library: its drives, storage slots and mail
// (import/export) slots, each an Element.
type Library struct {
	Name      string    `json:"name"`
	Drives    []Element `json:"drives"`
	Slots     []Element `json:"slots"`
	MailSlots []Element `json:"mail_slots"`
}

// LibraryOf is the view of the library called name with elems.
func LibraryOf(name string, elems []changer.Element) Library {
	l := Library{Name: name, Drives: []Element{}, Slots: []Element{}, MailSlots: []Element{}}
	for _, e := range ElementsOf(elems) {
		switch e.Type {
		case changer.DataTransfer.String():
			l.Drives = append(l.Drives, e)
		case changer.Storage.String():
			l.Slots = append(l.Slots, e)
		case changer.ImportExport.String():
			l.MailSlots = append(l.MailSlots, e)
		}
	}
	return l
}

// Disk is one of the target's disks (the same names as `ferry disk ls
// --json`, which prints the disk's description).
type Disk struct {
	Name      string    `json:"name"`
	Index     int       `json:"index"`
	Size      uint64    `json:"size"`
	BlockSize uint32    `json:"block_size"`
	Thin      bool      `json:"thin"`
	NAA       string    `json:"naa"`
	Image     string    `json:"image"`
	Created   time.Time `json:"created"`
}

// Target is the iSCSI target's identity and ACL, without CHAP secrets.
type Target struct {
	Name string `json:"name"`
	// Serving tells whether this node runs the target (ferry serve --iscsi).
	Serving bool          `json:"serving"`
	Address string        `json:"address,omitempty"`
	ACL     []TargetAllow `json:"acl"`
}

// TargetAllow is one initiator on the target's ACL: whether it must pass
// CHAP (never the secret) and the disks and libraries it sees (none
// named: every LU).
type TargetAllow struct {
	Initiator string   `json:"initiator"`
	CHAP      bool     `json:"chap"`
	Disks     []string `json:"disks"`
	Libraries []string `json:"libraries"`
}

// JobLog is a job with its log.
type JobLog struct {
	Job
	Log []LogLine `json:"log"`
}

// BackupPage is one page of backups, newest first; NextBefore, when set,
// is the `before` of the next page.
type BackupPage struct {
	Backups    []Backup `json:"backups"`
	NextBefore int64    `json:"next_before,omitempty"`
}

// Error is an API error: a stable code and a message for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
