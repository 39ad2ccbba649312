package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/changer"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/node"
	"ferry/internal/view"
)

// LocalAgentName is the catalog's name for the agent ferry starts inside
// the process on the state directory's library.
const LocalAgentName = "local"

// PasswordEnv holds the password of an unregistered agent.
const PasswordEnv = "FERRY_NDMP_PASSWORD"

// agentNameRE is what a registered agent may be called.
var agentNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ManagerConfig is what a Manager works on.
type ManagerConfig struct {
	// Layout is the state directory: its library backs the in-process
	// agent, its agents directory holds registered agents' passwords.
	Layout node.Layout
	// Protect are files of ferry's own outside the state directory that a
	// local backup must never store (a SQLite catalog kept elsewhere).
	Protect []string
	// Password is the password of an unregistered agent when a request
	// gives none (the CLI passes $FERRY_NDMP_PASSWORD).
	Password string
}

// Manager is the data manager as a service: it turns what a user names (a
// directory on this machine, ndmp://AGENT/PATH with a registered agent or
// USER@HOST:PORT, a backup id) into agents and drives, starting ferry's
// in-process agent when the data or tape is local, and runs the jobs. The
// CLI and the management API call it alike.
type Manager struct {
	cat catalog.Catalog
	cfg ManagerConfig
}

// NewManager returns a data manager over cat.
func NewManager(cat catalog.Catalog, cfg ManagerConfig) *Manager {
	return &Manager{cat: cat, cfg: cfg}
}

// Catalog is the catalog the manager records jobs in.
func (m *Manager) Catalog() catalog.Catalog { return m.cat }

// localAgent is ferry's NDMP agent started inside the process, as the data
// manager names it.
type localAgent struct {
	*node.LocalAgent
	agent Agent
}

// startLocal starts the in-process agent exporting dirs (may be none);
// with protect its backups also leave out Config.Protect.
func (m *Manager) startLocal(exports []string, protect bool) (*localAgent, error) {
	var p []string
	if protect {
		p = m.cfg.Protect
	}
	a, err := node.StartLocalAgent(m.cfg.Layout, exports, p...)
	if err != nil {
		return nil, err
	}
	return &localAgent{LocalAgent: a,
		agent: Agent{Name: LocalAgentName, Addr: a.Addr, User: a.User, Password: a.Password}}, nil
}

// driveWith returns the drive holding barcode, else tape0, into which the
// job loads it through the changer.
func (l *localAgent) driveWith(barcode string) string {
	els, _ := l.Lib.Elements()
	for _, e := range els {
		if e.Drive != "" && e.Full && e.Barcode == barcode {
			return e.Drive
		}
	}
	return "tape0"
}

// AddAgent registers an NDMP agent under name; its password is kept in
// the state directory (mode 0600), never in the catalog.
func (m *Manager) AddAgent(ctx context.Context, name, rawURL, password string) (catalog.Agent, error) {
	if !agentNameRE.MatchString(name) || name == LocalAgentName {
		return catalog.Agent{}, fmt.Errorf("agent name %q: use letters, digits, '.', '_' and '-' (and not %q, ferry's built-in agent)", name, LocalAgentName)
	}
	user, host, err := AgentURL(rawURL)
	if err != nil {
		return catalog.Agent{}, err
	}
	if err := os.MkdirAll(m.cfg.Layout.Agents(), 0o700); err != nil {
		return catalog.Agent{}, err
	}
	secret := m.cfg.Layout.AgentSecret(name)
	if err := node.WriteSecret(secret, password); err != nil {
		return catalog.Agent{}, fmt.Errorf("agent %s: %w", name, err)
	}
	a := catalog.Agent{Name: name, URL: "ndmp://" + user + "@" + host, SecretRef: secret, Created: time.Now().UTC()}
	return a, m.cat.PutAgent(ctx, a)
}

// ResolveAgent turns an agent name (registered, or USER@HOST:PORT) into
// an address and credentials. An unregistered agent's password is
// password, else Config.Password.
func (m *Manager) ResolveAgent(ctx context.Context, name, password string) (Agent, error) {
	t, err := ParseTarget("ndmp://" + name + "/")
	if err != nil {
		return Agent{}, err
	}
	if t.Registered() {
		a, err := m.cat.Agent(ctx, name)
		if errors.Is(err, catalog.ErrNotFound) {
			return Agent{}, fmt.Errorf("no agent %q: register it with ferry agent add %s ndmp://USER@HOST:PORT --password-file FILE, or name it USER@HOST:PORT", name, name)
		}
		if err != nil {
			return Agent{}, err
		}
		user, host, err := AgentURL(a.URL)
		if err != nil {
			return Agent{}, err
		}
		pw, err := node.ReadSecret(a.SecretRef)
		if err != nil {
			return Agent{}, fmt.Errorf("agent %s: %w (register it again with ferry agent add)", name, err)
		}
		return Agent{Name: name, Addr: host, User: user, Password: pw}, nil
	}
	pw := cmp.Or(password, m.cfg.Password)
	if pw == "" {
		return Agent{}, fmt.Errorf("agent %s: no password: give --password-file FILE or set %s (or register the agent with ferry agent add)", name, PasswordEnv)
	}
	return Agent{Name: t.Agent, Addr: t.Host, User: t.User, Password: pw}, nil
}

// BackupRequest is a backup as a user asks for it.
type BackupRequest struct {
	// Source is a directory on this machine (backed up through the
	// in-process agent) or ndmp://AGENT/PATH.
	Source string
	// Tape is ndmp://AGENT/DRIVE; "" is drive tape0 of the data agent.
	Tape string
	// Password and TapePassword are for unregistered agents; ""
	// TapePassword is Password.
	Password, TapePassword string
	Level                  int
	Incremental            bool
	Exclude                []string
	OverwriteUnlabeled     bool
	// Pool and Keep: see BackupSpec.
	Pool          string
	Keep          time.Duration
	Changer       ChangerOptions
	Progress      chan<- Progress
	ProgressEvery time.Duration // 0: a second
}

// Backup runs a backup job (Backup) for r. A failed job's error names its
// backup id when it got one.
func (m *Manager) Backup(ctx context.Context, r BackupRequest) (catalog.Backup, error) {
	if r.Incremental && r.Level != 0 {
		return catalog.Backup{}, errors.New("give --level N or --incremental, not both")
	}
	if r.Level < 0 {
		return catalog.Backup{}, errors.New("--level must be 0 or more")
	}
	spec := BackupSpec{Level: r.Level, Incremental: r.Incremental, Exclude: r.Exclude, OverwriteUnlabeled: r.OverwriteUnlabeled,
		ChangerOptions: r.Changer, Progress: r.Progress, ProgressEvery: r.ProgressEvery, Drive: "tape0", Pool: r.Pool, Keep: r.Keep}
	dataAgent := LocalAgentName
	if strings.HasPrefix(r.Source, "ndmp://") {
		t, err := ParseTarget(r.Source)
		if err != nil {
			return catalog.Backup{}, err
		}
		if spec.Agent, err = m.ResolveAgent(ctx, t.Agent, r.Password); err != nil {
			return catalog.Backup{}, err
		}
		spec.Path, dataAgent = t.Path, t.Agent
	} else {
		dir, err := LocalDir(r.Source)
		if err != nil {
			return catalog.Backup{}, err
		}
		la, err := m.startLocal([]string{filepath.Dir(dir)}, true)
		if err != nil {
			return catalog.Backup{}, err
		}
		defer la.Stop()
		spec.Agent, spec.Path = la.agent, dir
	}
	if err := m.tapeOf(ctx, r, dataAgent, &spec); err != nil {
		return catalog.Backup{}, err
	}
	b, err := Backup(ctx, m.cat, spec)
	if err != nil {
		if client.IsNDMP(err, wire.ErrDeviceBusy) {
			err = fmt.Errorf("%w (%s)", err, m.deviceBusyHint(spec.Drive, spec.Path))
		}
		if b.ID != 0 {
			return b, fmt.Errorf("backup %d of %s failed: %w", b.ID, spec.Path, err)
		}
	}
	return b, err
}

// tapeOf applies r.Tape, ndmp://AGENT/DRIVE: a drive of the data agent,
// or another agent's (a 3-way backup).
func (m *Manager) tapeOf(ctx context.Context, r BackupRequest, dataAgent string, spec *BackupSpec) error {
	if r.Tape == "" {
		return nil
	}
	tt, err := ParseTarget(r.Tape)
	if err != nil {
		return fmt.Errorf("--tape: %w", err)
	}
	spec.Drive = tt.Device()
	if spec.Drive == "" {
		return errors.New("--tape ndmp://AGENT/DRIVE: name the drive, e.g. tape0 or /dev/nst0")
	}
	if tt.Agent == dataAgent {
		return nil
	}
	ta, err := m.ResolveAgent(ctx, tt.Agent, cmp.Or(r.TapePassword, r.Password))
	if err != nil {
		return fmt.Errorf("tape agent: %w", err)
	}
	spec.Tape = &ta
	spec.Barcode = "" // unknown on another agent's library
	return nil
}

// deviceBusyHint explains a DEVICE_BUSY from the local agent: most likely
// a ferry serve on the same state directory holds the drive. Its password
// is whatever that serve was started with, which this process cannot
// know, so the hint names where it is kept rather than guess a file.
func (m *Manager) deviceBusyHint(drive, path string) string {
	return fmt.Sprintf("another session holds drive %s: if ferry serve runs on this state directory, back up through it with "+
		"ferry backup ndmp://USER@HOST:PORT%s --password-file FILE, where FILE holds the password of the ferry serve holding the drive "+
		"(its --ndmp-password-file, default %s; USER is its --ndmp-user, default ndmp)",
		drive, path, m.cfg.Layout.NDMPPassword())
}

// LocalDir resolves a directory to back up on this machine.
func LocalDir(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("back up %s: %w", p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("back up %s: not a directory", p)
	}
	return abs, nil
}

// RestoreRequest is a restore as a user asks for it.
type RestoreRequest struct {
	BackupID int64
	// To is a directory on this machine or ndmp://AGENT/PATH (restored by
	// that agent's data service).
	To    string
	Paths []string
	// Tape is ndmp://AGENT/DRIVE to read from; "" the drive the backup was
	// written with.
	Tape        string
	Password    string // for unregistered agents
	Overwrite   bool
	KeepDamaged bool
	Changer     ChangerOptions
	Progress    chan<- Progress
}

// Restore runs a restore job for r, into a local directory (Restore) or
// onto an agent (RestoreToAgent). The outcome is filled in as far as the
// job got, also when it fails; its Backup is 0 when the catalog has no
// such backup.
func (m *Manager) Restore(ctx context.Context, r RestoreRequest) (view.Restore, error) {
	out := view.Restore{To: r.To}
	b, err := m.readable(ctx, r.BackupID)
	if err != nil {
		return out, err
	}
	out.Backup = b.ID
	if b.Butype == ButypeImage {
		return m.restoreImageFiles(ctx, b, r) // files of its ext4 file system: imagerestore.go
	}
	var res RestoreResult
	if strings.HasPrefix(r.To, "ndmp://") {
		res, err = m.restoreToAgent(ctx, b, r)
	} else {
		if out.To, err = filepath.Abs(r.To); err != nil {
			return out, err
		}
		spec := RestoreSpec{BackupID: b.ID, To: out.To, Paths: r.Paths, Overwrite: r.Overwrite, KeepDamaged: r.KeepDamaged,
			ChangerOptions: r.Changer, Progress: r.Progress}
		var stop func()
		if spec.Agent, spec.Drive, stop, err = m.tapeAgentFor(ctx, b, r.Tape, r.Password); err != nil {
			return out, err
		}
		defer stop()
		res, err = Restore(ctx, m.cat, spec)
	}
	out.Chain, out.Read = res.Chain, res.Read
	out.Restored, out.Skipped, out.Failed, out.Removed, out.Bytes = res.Summary.Restored, res.Summary.Skipped,
		res.Summary.Failed, res.Summary.Removed, res.Summary.Bytes
	if err != nil {
		err = fmt.Errorf("restore of backup %d: %w", b.ID, err)
		out.Error = err.Error()
	}
	return out, err
}

// Backup1 returns one backup, with an error a user can act on when the
// catalog has none by that id.
func (m *Manager) Backup1(ctx context.Context, id int64) (catalog.Backup, error) {
	b, err := m.cat.Backup(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return b, fmt.Errorf("no backup %d in the catalog (ferry backups lists them)", id)
	}
	return b, err
}

// readable returns a backup to read back: one that expired may have been
// overwritten since its cartridge returned to scratch.
func (m *Manager) readable(ctx context.Context, id int64) (catalog.Backup, error) {
	b, err := m.Backup1(ctx, id)
	if err == nil && b.Status == catalog.StatusExpired {
		err = fmt.Errorf("backup %d expired (kept until %s): its cartridge may have been written again since; it is not restored",
			id, b.Expires.Local().Format(time.DateTime))
	}
	return b, err
}

// Prune expires what passed its retention at now and returns cartridges
// that hold nothing kept to scratch (Prune); dryRun changes nothing.
func (m *Manager) Prune(ctx context.Context, now time.Time, dryRun bool) (PruneResult, error) {
	return Prune(ctx, m.cat, now, dryRun)
}

// restoreToAgent restores onto an agent's file system: through that
// agent's own tape when it holds the backup's cartridge, else 3-way from
// the agent that does (r.Tape, or the backup job's tape agent).
func (m *Manager) restoreToAgent(ctx context.Context, b catalog.Backup, r RestoreRequest) (RestoreResult, error) {
	t, err := ParseTarget(r.To)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("--to: %w", err)
	}
	tapeName, tapeDrive := m.jobTapeAgent(ctx, b), ""
	if r.Tape != "" {
		tt, err := ParseTarget(r.Tape)
		if err != nil {
			return RestoreResult{}, fmt.Errorf("--tape: %w", err)
		}
		tapeName, tapeDrive = tt.Agent, tt.Device()
	}
	threeWay := t.Agent != tapeName
	spec := AgentRestoreSpec{BackupID: b.ID, To: t.Path, Paths: r.Paths, Overwrite: r.Overwrite, KeepDamaged: r.KeepDamaged,
		ChangerOptions: r.Changer, Progress: r.Progress}
	if threeWay {
		// The data service of the agent in To, the tape and mover of the
		// agent holding the cartridge.
		ta, drive, stop, err := m.tapeAgentFor(ctx, b, r.Tape, r.Password)
		if err != nil {
			return RestoreResult{}, err
		}
		defer stop()
		spec.Tape, spec.Drive = &ta, drive
	}
	if t.Agent == LocalAgentName {
		if err := os.MkdirAll(t.Path, 0o755); err != nil {
			return RestoreResult{}, fmt.Errorf("restore destination: %w", err)
		}
		la, err := m.startLocal([]string{t.Path}, false)
		if err != nil {
			return RestoreResult{}, err
		}
		defer la.Stop()
		spec.Agent = la.agent
		if !threeWay {
			spec.Drive = "tape0"
			if len(b.Locations) > 0 && b.Locations[0].Barcode != "" {
				spec.Drive = la.driveWith(b.Locations[0].Barcode)
			}
		}
	} else {
		if spec.Agent, err = m.ResolveAgent(ctx, t.Agent, r.Password); err != nil {
			return RestoreResult{}, err
		}
		if !threeWay {
			spec.Drive = cmp.Or(tapeDrive, m.jobDrive(ctx, b))
		}
	}
	return RestoreToAgent(ctx, m.cat, spec)
}

// backupJob returns the spec of the job that wrote backup b (zero when the
// catalog has none).
func (m *Manager) backupJob(ctx context.Context, b catalog.Backup) BackupJobSpec {
	var spec BackupJobSpec
	if j, err := m.cat.Job(ctx, b.JobID); err == nil {
		spec, _ = DecodeBackupJobSpec(j.Spec)
	}
	return spec
}

// jobDrive returns the drive a backup was written with, from its job.
func (m *Manager) jobDrive(ctx context.Context, b catalog.Backup) string {
	return cmp.Or(m.backupJob(ctx, b).Drive, "tape0")
}

// jobTapeAgent returns the agent whose drive holds a backup: the data
// agent unless the backup was 3-way.
func (m *Manager) jobTapeAgent(ctx context.Context, b catalog.Backup) string {
	return cmp.Or(m.backupJob(ctx, b).TapeAgent, b.Agent)
}

// tapeAgentFor returns the agent and drive to read backup b's tape with:
// tape (ndmp://AGENT/DRIVE) when given, else the tape agent and drive of
// its job (the in-process agent for "local", started here; stop shuts it
// down).
func (m *Manager) tapeAgentFor(ctx context.Context, b catalog.Backup, tape, password string) (a Agent, drive string, stop func(), err error) {
	stop = func() {}
	if tape != "" {
		t, err := ParseTarget(tape)
		if err != nil {
			return a, "", stop, fmt.Errorf("--tape: %w", err)
		}
		a, err = m.ResolveAgent(ctx, t.Agent, password)
		return a, t.Device(), stop, err
	}
	name := m.jobTapeAgent(ctx, b)
	if name != LocalAgentName {
		a, err = m.ResolveAgent(ctx, name, password)
		return a, m.jobDrive(ctx, b), stop, err
	}
	la, err := m.startLocal(nil, false)
	if err != nil {
		return a, "", stop, err
	}
	drive = "tape0"
	if len(b.Locations) > 0 && b.Locations[0].Barcode != "" {
		drive = la.driveWith(b.Locations[0].Barcode)
	}
	return la.agent, drive, la.Stop, nil
}

// VerifyRequest is a verify as a user asks for it.
type VerifyRequest struct {
	BackupID int64
	Tape     string // ndmp://AGENT/DRIVE; "" the drive the backup was written with
	Password string
	Changer  ChangerOptions
}

// Verify runs a verify job (Verify) for r.
func (m *Manager) Verify(ctx context.Context, r VerifyRequest) (VerifyResult, error) {
	b, err := m.readable(ctx, r.BackupID)
	if err != nil {
		return VerifyResult{}, err
	}
	if b.Butype == ButypeImage {
		return m.verifyImage(ctx, b, r.Tape) // read back from its tape LU: imageverify.go
	}
	a, drive, stop, err := m.tapeAgentFor(ctx, b, r.Tape, r.Password)
	if err != nil {
		return VerifyResult{}, err
	}
	defer stop()
	return Verify(ctx, m.cat, VerifySpec{Agent: a, Drive: drive, BackupID: b.ID, ChangerOptions: r.Changer})
}

// CopyRequest is a copy as a user asks for it.
type CopyRequest struct {
	// Src and Dst are directories on this machine (one in-process agent
	// exports both) or ndmp://AGENT/PATH.
	Src, Dst                 string
	SrcPassword, DstPassword string // for unregistered agents; "" DstPassword is SrcPassword
	Level                    int
	Incremental              bool
	ListenSrc                bool
	Exclude                  []string
	Overwrite                bool
	Progress                 chan<- Progress
}

// Copy runs a copy job (Copy) for r. A failed job's error names it.
func (m *Manager) Copy(ctx context.Context, r CopyRequest) (CopyResult, error) {
	if r.Incremental && r.Level != 0 {
		return CopyResult{}, errors.New("give --level N or --incremental, not both")
	}
	spec := CopySpec{Level: r.Level, Incremental: r.Incremental, ListenSrc: r.ListenSrc,
		Exclude: r.Exclude, Overwrite: r.Overwrite, Progress: r.Progress}
	var exports []string
	local := func(p string, isDst bool) (string, error) {
		if !isDst {
			dir, err := LocalDir(p)
			exports = append(exports, dir)
			return dir, err
		}
		abs, err := filepath.Abs(p)
		if err == nil {
			err = os.MkdirAll(abs, 0o755)
		}
		if err != nil {
			return "", fmt.Errorf("copy destination %s: %w", p, err)
		}
		exports = append(exports, abs)
		return abs, nil
	}
	remote := func(p, password string) (Agent, string, error) {
		t, err := ParseTarget(p)
		if err != nil {
			return Agent{}, "", err
		}
		a, err := m.ResolveAgent(ctx, t.Agent, password)
		return a, t.Path, err
	}
	var err error
	srcLocal, dstLocal := !strings.HasPrefix(r.Src, "ndmp://"), !strings.HasPrefix(r.Dst, "ndmp://")
	if srcLocal {
		spec.SrcPath, err = local(r.Src, false)
	} else {
		spec.Src, spec.SrcPath, err = remote(r.Src, r.SrcPassword)
	}
	if err != nil {
		return CopyResult{}, err
	}
	if dstLocal {
		spec.DstPath, err = local(r.Dst, true)
	} else {
		spec.Dst, spec.DstPath, err = remote(r.Dst, cmp.Or(r.DstPassword, r.SrcPassword))
	}
	if err != nil {
		return CopyResult{}, err
	}
	if len(exports) > 0 {
		la, err := m.startLocal(exports, true)
		if err != nil {
			return CopyResult{}, err
		}
		defer la.Stop()
		if srcLocal {
			spec.Src = la.agent
		}
		if dstLocal {
			spec.Dst = la.agent
		}
	}
	res, err := Copy(ctx, m.cat, spec)
	if err != nil {
		err = fmt.Errorf("copy of %s to %s (job %d): %w", r.Src, r.Dst, res.JobID, err)
	}
	return res, err
}

// RebuildRequest is a catalog rebuild as a user asks for it.
type RebuildRequest struct {
	// Tape is ndmp://AGENT/DRIVE: only the cartridge in that drive. ""
	// reads every cartridge of the state directory's library.
	Tape     string
	Password string
	NoFiles  bool
}

// Rebuild recreates the catalog from cartridges (Rebuild): the one in
// r.Tape, or every cartridge of the state directory's library through the
// in-process agent, each cartridge in a slot moved into a drive and back.
func (m *Manager) Rebuild(ctx context.Context, r RebuildRequest) (RebuildResult, error) {
	var total RebuildResult
	add := func(r RebuildResult) {
		total.Added = append(total.Added, r.Added...)
		total.Present = append(total.Present, r.Present...)
		total.Files += r.Files
		total.Renumbered = append(total.Renumbered, r.Renumbered...)
		total.Damaged = append(total.Damaged, r.Damaged...)
	}
	if r.Tape != "" {
		t, err := ParseTarget(r.Tape)
		if err != nil {
			return total, fmt.Errorf("--tape: %w", err)
		}
		a, err := m.ResolveAgent(ctx, t.Agent, r.Password)
		if err != nil {
			return total, err
		}
		res, err := Rebuild(ctx, m.cat, RebuildSpec{Agent: a, Drive: t.Device(), NoFiles: r.NoFiles})
		add(res)
		return total, err
	}
	la, err := m.startLocal(nil, false)
	if err != nil {
		return total, err
	}
	defer la.Stop()
	err = eachCartridge(la.Lib, func(drive, barcode string) error {
		res, err := Rebuild(ctx, m.cat, RebuildSpec{Agent: la.agent, Drive: drive, Barcode: barcode, NoFiles: r.NoFiles})
		add(res)
		if err != nil {
			return fmt.Errorf("cartridge %s: %w", barcode, err)
		}
		return nil
	})
	return total, err
}

// Robot is a library's changer as the data manager moves cartridges with
// it.
type Robot interface {
	Elements() ([]changer.Element, error)
	Move(src, dst uint16) error
	Exchange(src, dst1, dst2 uint16) error
}

// eachCartridge calls fn for every cartridge of lib with the drive it is
// in: cartridges in drives where they are, the others moved into a drive
// and back to where they were (into an empty drive, else exchanged with
// the first drive's cartridge).
func eachCartridge(lib Robot, fn func(drive, barcode string) error) error {
	els, err := lib.Elements()
	if err != nil {
		return err
	}
	var reader *changer.Element // the drive slot cartridges are read in
	for i, e := range els {
		if e.Type != changer.DataTransfer {
			continue
		}
		if reader == nil || reader.Full && !e.Full {
			reader = &els[i]
		}
		if e.Full {
			if err := fn(e.Drive, e.Barcode); err != nil {
				return err
			}
		}
	}
	if reader == nil {
		return fmt.Errorf("the library has no drive")
	}
	// load puts the slot's cartridge in the reader; unload puts it back.
	load := func(slot uint16) error { return lib.Move(slot, reader.Address) }
	unload := func(slot uint16) error { return lib.Move(reader.Address, slot) }
	if reader.Full {
		load = func(slot uint16) error { return lib.Exchange(slot, reader.Address, slot) }
		unload = load // the same exchange swaps them back
	}
	for _, e := range els {
		if !e.Full || (e.Type != changer.Storage && e.Type != changer.ImportExport) {
			continue
		}
		if err := load(e.Address); err != nil {
			return fmt.Errorf("load %s into %s: %w", e.Barcode, reader.Drive, err)
		}
		err := fn(reader.Drive, e.Barcode)
		if uerr := unload(e.Address); uerr != nil && err == nil {
			err = fmt.Errorf("put %s back: %w", e.Barcode, uerr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Scan lists the tape files of the cartridge in a drive: tape
// (ndmp://AGENT/DRIVE) of an agent, else drive of the state directory's
// library through the in-process agent. Past damage it may stop early:
// what it found comes with the error.
func (m *Manager) Scan(ctx context.Context, tape, drive, password string) ([]TapeFile, error) {
	if tape != "" {
		t, err := ParseTarget(tape)
		if err != nil {
			return nil, fmt.Errorf("--tape: %w", err)
		}
		a, err := m.ResolveAgent(ctx, t.Agent, password)
		if err != nil {
			return nil, err
		}
		return ScanTape(ctx, a, t.Device())
	}
	la, err := m.startLocal(nil, false)
	if err != nil {
		return nil, err
	}
	defer la.Stop()
	return ScanTape(ctx, la.agent, drive)
}

// Cancel asks the process running job id to cancel it and waits up to wait
// for it to end. force records a job whose process is gone failed (and its
// backup) at once.
func (m *Manager) Cancel(ctx context.Context, id int64, wait time.Duration, force bool) (catalog.Job, error) {
	j, err := m.cat.RequestCancel(ctx, id)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return j, fmt.Errorf("no job %d (ferry jobs lists them)", id)
	case errors.Is(err, catalog.ErrJobEnded):
		return j, fmt.Errorf("job %d has already ended: %s", id, j.State)
	case err != nil:
		return j, err
	}
	if force {
		return m.forceFail(ctx, j)
	}
	deadline := time.Now().Add(wait)
	for j.Active() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if j, err = m.cat.Job(ctx, id); err != nil {
			return j, err
		}
	}
	if j.Active() {
		if wait == 0 {
			return j, nil // asked, not waited for
		}
		return j, fmt.Errorf("job %d is marked cancelling but its process (pid %d) has not ended it within %v; "+
			"if that process is gone, ferry cancel --force %d records it failed", id, j.PID, wait, id)
	}
	if j.State != catalog.JobCancelled {
		return j, fmt.Errorf("job %d ended %s before the cancel took effect: %s", id, j.State, j.Error)
	}
	return j, nil
}

// forceFail records a job whose process is gone, and its backup, failed.
func (m *Manager) forceFail(ctx context.Context, j catalog.Job) (catalog.Job, error) {
	const why = "cancelled by force (ferry cancel --force): the process running it did not end it"
	j.State, j.Ended, j.Error = catalog.JobFailed, time.Now().UTC(), why
	if err := m.cat.UpdateJob(ctx, j); err != nil {
		return j, err
	}
	if j.BackupID != 0 {
		b, err := m.cat.Backup(ctx, j.BackupID)
		if err == nil && b.Status == catalog.StatusRunning {
			err = m.cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusFailed, Ended: j.Ended,
				Error: why, Env: b.Env})
		}
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return j, err
		}
	}
	return j, nil
}

// Problems returns what a job's agents reported as warnings or errors.
func (m *Manager) Problems(ctx context.Context, jobID int64) []string {
	lines, err := m.cat.JobLog(ctx, jobID)
	if err != nil {
		return []string{fmt.Sprintf("(the job's log could not be read: %v)", err)}
	}
	var out []string
	for _, l := range lines {
		if l.Level == "warning" || l.Level == "error" {
			out = append(out, l.Message)
		}
	}
	return out
}

// ReconcileGone ends the jobs whose process is gone (Reconcile), reading
// the cartridge a backup job was writing through the agent holding it.
func (m *Manager) ReconcileGone(ctx context.Context) ([]catalog.Job, error) {
	return Reconcile(ctx, m.cat, func(ctx context.Context, j catalog.Job, b catalog.Backup) error {
		spec, err := DecodeBackupJobSpec(j.Spec)
		if err != nil {
			return fmt.Errorf("job %d: %w", j.ID, err)
		}
		rs := RebuildSpec{Drive: spec.Drive}
		if name := cmp.Or(spec.TapeAgent, spec.Agent); name == LocalAgentName {
			la, err := m.startLocal(nil, false)
			if err != nil {
				return err
			}
			defer la.Stop()
			rs.Agent = la.agent
		} else if rs.Agent, err = m.ResolveAgent(ctx, name, ""); err != nil {
			return err
		}
		_, err = Rebuild(ctx, m.cat, rs)
		return err
	})
}
