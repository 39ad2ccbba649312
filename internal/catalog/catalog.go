package catalog

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Errors of the catalog.
var (
	ErrNotFound = errors.New("catalog: not found")
	// ErrNoBase: an incremental backup's base is not in the catalog
	// (deleted, or on a cartridge a rebuild has not read yet), so the
	// incremental cannot be restored.
	ErrNoBase   = errors.New("catalog: the base of an incremental backup is not in the catalog")
	ErrClosed   = errors.New("catalog: closed")
	ErrBadQuery = errors.New("catalog: bad query")
	ErrJobEnded = errors.New("catalog: the job has ended")
)

// Catalog is what ferry's DMA knows about agents, backups, media, jobs and
// the files in every backup. Both backends (SQLite, PostgreSQL) implement it
// with the same schema and pass the same conformance suite (catalogtest).
// Methods are safe for concurrent use, and several processes may share one
// catalog. Code that needs one part takes the narrow interface of it.
type Catalog interface {
	AgentCatalog
	SANTargetCatalog
	PolicyCatalog
	BackupCatalog
	FileCatalog
	ImageFileCatalog
	MediaCatalog
	JobCatalog
	// Close releases the database.
	Close() error
}

// AgentCatalog is the registered NDMP agents.
type AgentCatalog interface {
	// PutAgent adds or replaces an agent by name.
	PutAgent(ctx context.Context, a Agent) error
	// Agent returns the agent called name, or ErrNotFound.
	Agent(ctx context.Context, name string) (Agent, error)
	// Agents lists agents by name.
	Agents(ctx context.Context) ([]Agent, error)
	// DeleteAgent removes an agent (its backups stay).
	DeleteAgent(ctx context.Context, name string) error
}

// BackupCatalog is backups, their identities, chains, expiry and where their images lie on tape.
type BackupCatalog interface {
	// CreateBackup records a new backup (status usually Running) and
	// returns its id, also set in b. A backup with an ID keeps it (a
	// catalog rebuilt from cartridges); later ones are numbered above it.
	// A backup without a UUID is given a new one, set in b; a UUID the
	// catalog has already is refused. The base is named by BaseUUID or
	// BaseID; CreateBackup sets the other in b.
	CreateBackup(ctx context.Context, b *Backup) (int64, error)
	// FinishBackup sets a backup's outcome: status, end, counts, error,
	// the environment and dump date token the agent returned.
	FinishBackup(ctx context.Context, id int64, r BackupResult) error
	// Backup returns one backup with its locations, or ErrNotFound.
	Backup(ctx context.Context, id int64) (Backup, error)
	// BackupByUUID returns the backup with that identity and its
	// locations, or ErrNotFound.
	BackupByUUID(ctx context.Context, uuid string) (Backup, error)
	// Backups lists backups matching f, oldest first.
	Backups(ctx context.Context, f BackupFilter) ([]Backup, error)
	// Chain returns the backup id and its bases, the full backup first.
	// Bases are found by identity (BaseUUID); a backup recorded before
	// backups had one by BaseID, else (an incremental rebuilt from an old
	// cartridge before its base was) by the one backup of the same agent
	// and path whose DumpDate is its BaseToken. An incremental whose base
	// is not in the catalog is ErrNoBase.
	Chain(ctx context.Context, id int64) ([]Backup, error)
	// DeleteBackup removes a backup with its locations and files.
	DeleteBackup(ctx context.Context, id int64) error
	// SetExpiry sets when a backup may expire (zero: never by time).
	SetExpiry(ctx context.Context, id int64, at time.Time) error
	// Expire marks expired every backup whose expiry time has passed at
	// now, except one that a live backup depends on (a full or lower
	// level never expires while an incremental based on it, directly or
	// not, is not expired), and returns their ids.
	Expire(ctx context.Context, now time.Time) ([]int64, error)
	// Expirable returns the ids Expire would expire at now, changing
	// nothing.
	Expirable(ctx context.Context, now time.Time) ([]int64, error)
	// AddLocation records where (a part of) a backup lies on tape.
	AddLocation(ctx context.Context, l Location) error
	// OnMedium lists the backup pieces on one cartridge by tape file number.
	OnMedium(ctx context.Context, barcode string) ([]Location, error)
}

// FileCatalog is the files in every backup: file history, data checksums, listing and search.
type FileCatalog interface {
	// Ingest starts a file-history ingester for backup id. Entries added
	// to it are written in big batches by a goroutine of its own, through
	// a bounded queue; Close flushes them.
	Ingest(ctx context.Context, backupID int64, o IngestOptions) *Ingester
	// AddChecksums records data checksums of a backup's entries (a given
	// fh_info's again replaces it).
	AddChecksums(ctx context.Context, backupID int64, sums []Checksum) error
	// Checksums returns a backup's data checksums by fh_info.
	Checksums(ctx context.Context, backupID int64) (map[uint64]uint32, error)
	// List returns the entries of directory dir in a backup, by name.
	List(ctx context.Context, backupID int64, dir string) ([]File, error)
	// Lookup returns one file of a backup (for DAR), or ErrNotFound.
	Lookup(ctx context.Context, backupID int64, path string) (File, error)
	// Find returns the files matching q across all backups (or one),
	// ordered by backup and path, at most q.Limit of them.
	Find(ctx context.Context, q Query) ([]Match, error)
}

// MediaCatalog is the cartridges.
type MediaCatalog interface {
	// PutMedium adds or replaces a cartridge record by barcode.
	PutMedium(ctx context.Context, m Medium) error
	// Medium returns one cartridge, or ErrNotFound.
	Medium(ctx context.Context, barcode string) (Medium, error)
	// Media lists cartridges by barcode.
	Media(ctx context.Context) ([]Medium, error)
}

// JobCatalog is the data manager's jobs and their logs.
type JobCatalog interface {
	// CreateJob records a job and returns its id, also set in j.
	CreateJob(ctx context.Context, j *Job) (int64, error)
	// UpdateJob stores a job's state, end, error, backup and spec (a job
	// may add its results to its spec: a copy's DUMP_DATE token). A job
	// marked cancelling stays so when updated as queued or running.
	UpdateJob(ctx context.Context, j Job) error
	// Job returns one job, or ErrNotFound.
	Job(ctx context.Context, id int64) (Job, error)
	// Jobs lists jobs, oldest first; active only when active is true.
	Jobs(ctx context.Context, active bool) ([]Job, error)
	// RequestCancel asks for a queued or running job to be cancelled: its
	// state becomes JobCancelling, which the process running it watches
	// for. A job that has ended is returned with ErrJobEnded.
	RequestCancel(ctx context.Context, id int64) (Job, error)
	// Log appends a line to a job's log.
	Log(ctx context.Context, jobID int64, level, msg string) error
	// JobLog returns a job's log in order.
	JobLog(ctx context.Context, jobID int64) ([]LogLine, error)
}

// Agent is a registered NDMP agent. The secret itself is never stored
// here: SecretRef names where it is (a file in the state directory).
type Agent struct {
	Name      string
	URL       string // ndmp://USER@HOST:PORT
	SecretRef string
	Created   time.Time
}

// Backup statuses.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	// StatusWarnings: the image is complete and restorable, but the agent
	// reported something it could not back up (a file unreadable, changed
	// while read): the job's log names each.
	StatusWarnings  = "completed_with_warnings"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	// StatusExpired: past its retention; no longer restored or based on,
	// and its cartridge space may be reused.
	StatusExpired = "expired"
)

// Completed reports whether the backup's image was finished: it can be
// restored and based on.
func (b Backup) Completed() bool {
	return b.Status == StatusSucceeded || b.Status == StatusWarnings
}

// Backup is one backup image.
type Backup struct {
	ID int64 // this catalog's number for it, for display and commands
	// UUID is the backup's identity, unique forever and written on tape
	// with it; "" for backups recorded before identities existed.
	UUID      string
	Agent     string // data agent (registered name or USER@HOST:PORT)
	Path      string // backed-up directory on the agent
	Level     int
	Butype    string
	BaseID    int64  // the backup this incremental is based on; 0 for a full (or a base not in the catalog)
	BaseUUID  string // the identity of that backup ("" for a full, or a base without one)
	BaseToken string // the DUMP_DATE token sent to the agent for this incremental
	DumpDate  string // the DUMP_DATE token the agent returned (base of the next)
	Env       []Env  // environment the agent returned (DATA_GET_ENV)
	JobID     int64
	Started   time.Time
	Ended     time.Time // zero while running
	Status    string
	Bytes     int64
	Files     int64
	Error     string
	Locations []Location // filled by Backup
	// Expires is when the backup may be expired (zero: kept until
	// expired by hand); see Expire.
	Expires time.Time
}

// Env is one environment variable of a backup.
type Env struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BackupResult is the outcome FinishBackup records.
type BackupResult struct {
	Status   string
	Ended    time.Time
	Bytes    int64
	Files    int64
	Error    string
	DumpDate string
	Env      []Env
}

// BackupFilter selects backups; zero fields match everything.
type BackupFilter struct {
	Agent  string
	Path   string
	Status string
	// Newest lists newest first; with Before only backups whose id is
	// below it, and at most Limit (0: all): one page of a long list,
	// read by the database's index rather than the whole table.
	Newest bool
	Before int64
	Limit  int
}

// Location is where a piece of a backup image is on tape. A backup that
// spans cartridges has one location per cartridge, in Seq order.
type Location struct {
	BackupID   int64
	Seq        int    // 0, 1, ... across cartridges
	Barcode    string // cartridge
	FileNum    int    // tape file number of the image on that cartridge
	RecordSize int    // bytes per tape record
	Offset     int64  // byte offset of this piece within the image
	Length     int64  // bytes of the image in this piece
}

// Checksum is the CRC-32C of one entry's data as the backup stream holds
// it, keyed by the entry's fh_info.
type Checksum struct {
	FhInfo uint64
	CRC32C uint32
}

// File is one file-history entry of a backup.
type File struct {
	Path   string // slash-separated, as reported by the agent
	Type   FileType
	Mode   uint32 // permission and type bits as reported (UNIX st_mode bits)
	UID    uint32
	GID    uint32
	Size   uint64
	Mtime  time.Time
	FhInfo uint64 // the agent's position hint for direct access recovery
	Node   uint64
}

// FileType is the NDMP file type (wire.FileType values).
type FileType uint8

// File types, as in NDMP.
const (
	TypeDir     FileType = 0
	TypeFIFO    FileType = 1
	TypeCharDev FileType = 2
	TypeBlkDev  FileType = 3
	TypeReg     FileType = 4
	TypeSymlink FileType = 5
	TypeSocket  FileType = 6
	TypeOther   FileType = 8
)

// Query is a Find request: a shell glob (Glob) or a regular expression
// (Regex, Go syntax) over full paths.
type Query struct {
	Glob     string
	Regex    string
	BackupID int64 // 0: all backups
	Limit    int   // 0: DefaultFindLimit
}

// DefaultFindLimit caps Find when Query.Limit is 0.
const DefaultFindLimit = 10000

// Match is one Find result.
type Match struct {
	BackupID int64
	File
}

// Medium is a cartridge the DMA has written or read.
type Medium struct {
	Barcode string
	Library string // where it lives (agent/library name)
	// Pool is the pool whose backups it holds: only backups of that pool
	// write it (DefaultPool when none was named).
	Pool     string
	Label    string // the DMA's label on the cartridge
	State    MediaState
	Capacity int64
	Used     int64
	NextFile int // tape file number the next backup appends at
	Updated  time.Time
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	// JobWarnings: the job finished but something was left out or went
	// wrong on the way; its log says what.
	JobWarnings  = "completed_with_warnings"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
	// JobCancelling: `ferry cancel` asked the process running the job to
	// stop; it records cancelled (or failed) when it has.
	JobCancelling = "cancelling"
)

// Job is one DMA job (backup, restore, copy, verify).
type Job struct {
	ID    int64
	Kind  string
	Spec  string // the job's parameters (JSON, the DMA's business)
	State string
	PID   int // process running it, for cancel
	// Owner names the process running it ("HOST BOOT_ID PID START"), so
	// a job whose process is gone is found and reconciled (dma.Reconcile).
	Owner    string
	Started  time.Time
	Ended    time.Time
	Error    string
	BackupID int64
}

// Completed reports whether the job ended having done its work (with or
// without warnings).
func (j Job) Completed() bool {
	return j.State == JobSucceeded || j.State == JobWarnings
}

// Active reports whether the job has not ended.
func (j Job) Active() bool {
	return j.State == JobQueued || j.State == JobRunning || j.State == JobCancelling
}

// LogLine is one line of a job's log.
type LogLine struct {
	Seq     int64
	At      time.Time
	Level   string
	Message string
}

// Open opens the catalog named by spec: a postgres:// or postgresql://
// URL (or "host=... dbname=..." DSN) opens PostgreSQL; anything else is
// the path of a SQLite database file.
func Open(ctx context.Context, spec string) (Catalog, error) {
	if IsPostgres(spec) {
		return OpenPostgres(ctx, spec)
	}
	return OpenSQLite(ctx, spec)
}

// IsPostgres reports whether spec names a PostgreSQL database.
func IsPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://") ||
		strings.Contains(spec, "dbname=") || strings.Contains(spec, "host=")
}
