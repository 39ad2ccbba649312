package dma

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// AgentRestoreSpec describes a restore onto an agent's file system by the
// agent's data service (DATA_START_RECOVER), with the tape on the same
// agent or, 3-way, on another.
type AgentRestoreSpec struct {
	Agent Agent  // data agent (and tape agent when Tape is nil)
	Tape  *Agent // the agent whose drive holds the cartridge, if not Agent
	Drive string // "" is tape0
	ChangerOptions
	BackupID  int64    // the backup; an incremental brings its chain
	To        string   // destination directory on the agent
	Paths     []string // relative to the backed-up directory; none: everything
	Overwrite bool     // replace existing files (later backups of a chain always do)
	// KeepDamaged has ferry's agent keep a file whose data fails its
	// backup checksum as NAME.ferry-damaged (the restore still fails).
	KeepDamaged bool
	Progress    chan<- Progress
}

// RestoreToAgent restores a backup with its chain onto the agent's file
// system. Chosen paths go as nlist entries with the catalog's fh_info, so
// the agent reads only their part of each image (direct access recovery);
// a whole restore reads each image once. A chain member holding none of
// the chosen paths is skipped.
//
// On ferry's own agent (its extension class selected) each regular file is
// checked against the CRC-32C the catalog holds for it, and a whole
// image's entries are counted against the catalog's: a file that differs
// is not restored (or kept as NAME.ferry-damaged), and the restore fails
// naming it, as it does for any file the agent reports not recovered and
// for an image cut short (*ShortImageError). Such failures do not stop the
// chain's later images.
//
// It is recorded as a restore job that ferry cancel can stop.
func RestoreToAgent(ctx context.Context, cat catalog.Catalog, s AgentRestoreSpec) (RestoreResult, error) {
	return backupJob(ctx, cat, "restore", ImageJobSpec{Backup: s.BackupID, Agent: s.Agent.Name, TapeAgent: tapeName(s.Agent, s.Tape), Drive: s.Drive, To: s.To, Paths: s.Paths},
		func(ctx context.Context, p *posts) (RestoreResult, error) { return restoreToAgentRun(ctx, cat, s, p) })
}

// restoreToAgentRun runs a restore job.
func restoreToAgentRun(ctx context.Context, cat catalog.Catalog, s AgentRestoreSpec, p *posts) (RestoreResult, error) {
	if s.Drive == "" {
		s.Drive = "tape0"
	}
	var res RestoreResult
	if !strings.HasPrefix(s.To, "/") {
		return res, fmt.Errorf("dma: restore destination %q on the agent must be absolute", s.To)
	}
	chain, err := restoreChain(ctx, cat, s.BackupID)
	if err != nil {
		return res, err
	}
	c, err := s.Agent.Dial(ctx, p.post)
	if err != nil {
		return res, err
	}
	defer c.Close()
	ferryAgent := c.SelectFerryExtension(ctx)
	side := tapeSide{c: c, p: p, name: s.Agent.Name}
	ta := s.Agent
	if s.Tape != nil {
		ta = *s.Tape
		side.p = newPosts(nil)
		defer func() { p.addLines(side.p.lines()) }()
		if side.c, err = s.Tape.Dial(ctx, side.p.post); err != nil {
			return res, err
		}
		defer side.c.Close()
		side.name = s.Tape.Name
	}
	side.d = newDrive(ta, side.c, s.Drive, wire.TapeReadMode, s.ChangerOptions)
	if err := side.d.Open(ctx); err != nil {
		return res, err
	}
	defer side.d.Close()
	nlists := make([][]wire.Name, len(chain))
	last := -1
	for i, b := range chain {
		if nlists[i], err = recoverNames(ctx, cat, b, s); err != nil {
			return res, err
		}
		if len(nlists[i]) > 0 {
			last = i
		}
	}
	// The recovers of one restore share the agent's record of the names
	// written, so an incremental's listing removes only those (ferry's
	// agent; others ignore the variables).
	set := restoreToken()
	var failed []error // files not restored, short images: the chain goes on
	for i, b := range chain {
		nlist := nlists[i]
		if len(nlist) == 0 {
			continue
		}
		env := []wire.PVal{{Name: "PREFIX", Value: s.To}, {Name: "FILESYSTEM", Value: s.To},
			{Name: "FERRY_RESTORE_SET", Value: set}}
		if s.Overwrite || i > 0 {
			env = append(env, wire.PVal{Name: "OVERWRITE", Value: "y"})
		}
		if s.Overwrite {
			env = append(env, wire.PVal{Name: "FERRY_PRUNE_EXISTING", Value: "y"})
		}
		if i == last {
			env = append(env, wire.PVal{Name: "FERRY_RESTORE_LAST", Value: "y"})
		}
		var checks func(context.Context) ([]wire.PVal, error)
		if ferryAgent {
			whole := nlist[0].OriginalPath == "/"
			checks = func(ctx context.Context) ([]wire.PVal, error) {
				return agentChecks(ctx, cat, c, b, whole, s.KeepDamaged)
			}
		}
		n, err := recoverImage(ctx, c, p, side, b, env, nlist, checks)
		res.Read += n
		res.Chain = append(res.Chain, b.ID)
		var fe *FilesNotRecoveredError
		var se *agentShortError
		hasFiles, hasShort := errors.As(err, &fe), errors.As(err, &se)
		if hasFiles {
			fe.Agent = s.Agent.Name
			failed = append(failed, fe)
		}
		if hasShort {
			failed = append(failed, shortOnAgent(ctx, cat, b, se))
		}
		if hasFiles || hasShort {
			continue
		}
		if err != nil {
			return res, errors.Join(append(failed, fmt.Errorf("dma: restore backup %d on %s: %w", b.ID, s.Agent.Name, err))...)
		}
	}
	newMeter(s.Progress, "restore").send(res.Read, 0, 0)
	return res, errors.Join(failed...)
}

// restoreToken names one restore's set of written names on the agent.
func restoreToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recoverNames builds the nlist of one chain member.
func recoverNames(ctx context.Context, cat catalog.Catalog, b catalog.Backup, s AgentRestoreSpec) ([]wire.Name, error) {
	if len(s.Paths) == 0 {
		return []wire.Name{{OriginalPath: "/", DestinationDir: s.To, FhInfo: wire.LengthInfinity, Node: wire.LengthInfinity}}, nil
	}
	var out []wire.Name
	for _, p := range s.Paths {
		rel := strings.Trim(path.Clean("/"+p), "/")
		if rel == "" {
			return []wire.Name{{OriginalPath: "/", DestinationDir: s.To, FhInfo: wire.LengthInfinity, Node: wire.LengthInfinity}}, nil
		}
		f, err := cat.Lookup(ctx, b.ID, "/"+rel)
		if errors.Is(err, catalog.ErrNotFound) {
			continue // not in this image (unchanged in an incremental)
		}
		if err != nil {
			return nil, fmt.Errorf("dma: catalog: %w", err)
		}
		out = append(out, wire.Name{OriginalPath: "/" + rel, DestinationDir: path.Join(s.To, rel), FhInfo: f.FhInfo, Node: wire.LengthInfinity})
	}
	return out, nil
}

// tapeSide is the connection holding the tape and the mover: the data
// agent's own in a 2-way restore, another agent's in a 3-way one.
type tapeSide struct {
	c    *client.Conn
	p    *posts
	name string
	d    *drive // the drive on c
}

// recoverImage runs DATA_START_RECOVER of one image on dc through the
// tape side's mover, the tape positioned at the image. The mover listens:
// LOCAL when it is the data agent's own (TCP if refused), TCP otherwise;
// the data service's NOTIFY_DATA_READ requests are forwarded to the mover
// as MOVER_READ (a linked LOCAL mover takes them directly).
//
// checks, when not nil, sends ferry's agent what it checks the files
// against, once connected, and returns the variables to add to env.
func recoverImage(ctx context.Context, dc *client.Conn, p *posts, t tapeSide, b catalog.Backup, env []wire.PVal, nlist []wire.Name,
	checks func(context.Context) ([]wire.PVal, error)) (int64, error) {
	c := t.c
	parts := pieces(b)
	if len(parts) == 0 {
		return 0, fmt.Errorf("%w: backup %d", ErrNotOnTape, b.ID)
	}
	cur := 0
	if err := positionPiece(ctx, t.d, b, parts[0], 0); err != nil {
		return 0, err
	}
	if err := c.MoverSetRecordSize(ctx, uint32(parts[0].RecordSize)); err != nil {
		return 0, fmt.Errorf("MOVER_SET_RECORD_SIZE: %w", err)
	}
	if err := setPieceWindow(ctx, c, parts, 0, 0); err != nil {
		return 0, err
	}
	addrType := wire.AddrTCP
	if c == dc {
		addrType = wire.AddrLocal
	}
	a, err := c.MoverListen(ctx, wire.MoverModeWrite, addrType)
	if err != nil && addrType == wire.AddrLocal {
		a, err = c.MoverListen(ctx, wire.MoverModeWrite, wire.AddrTCP)
	}
	if err != nil {
		return 0, fmt.Errorf("MOVER_LISTEN on %s: %w", t.name, err)
	}
	started := false
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if started {
			dc.DataAbort(cctx)
		}
		c.MoverAbort(cctx)
		dc.DataStop(cctx)
		c.MoverStop(cctx)
	}()
	if err := dc.DataConnect(ctx, a); err != nil {
		return 0, fmt.Errorf("DATA_CONNECT to the mover on %s: %w", t.name, err)
	}
	drain(p)
	if t.p != p {
		drain(t.p)
	}
	if checks != nil {
		more, err := checks(ctx)
		if err != nil {
			return 0, err
		}
		env = append(env, more...)
	}
	mark := p.mark()
	p.takeFailed()
	if err := dc.DataStartRecover(ctx, b.Butype, env, nlist); err != nil {
		return 0, fmt.Errorf("DATA_START_RECOVER: %w", refusal(err, p))
	}
	started = true
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-dc.Done():
			return 0, fmt.Errorf("agent closed the connection: %v", dc.Err())
		case <-c.Done():
			return 0, fmt.Errorf("tape agent %s closed the connection: %v", t.name, c.Err())
		case r := <-p.reads:
			if err := c.MoverRead(ctx, r.Offset, r.Length); err != nil {
				return 0, fmt.Errorf("MOVER_READ on %s: %w", t.name, err)
			}
		case why := <-p.data:
			ms, _ := c.MoverGetState(ctx)
			var n int64
			if ms != nil {
				n = int64(ms.BytesMoved)
			}
			return n, recoverFailures(ctx, dc, p, mark, why, b)
		case pause := <-t.p.paused:
			// The end of a piece (EOF at its filemark) or a read outside
			// it (SEEK): the piece holding what comes next is mounted.
			// EOF at the end of the last piece is the image's end; the
			// data service has what it needs or will halt.
			pos := int64(pause.SeekPosition)
			if pause.Reason == wire.MoverPauseEOF {
				if cur == len(parts)-1 {
					continue
				}
				pos = parts[cur+1].Offset
			} else if pause.Reason != wire.MoverPauseSeek {
				return 0, fmt.Errorf("mover on %s paused (%v)", t.name, pause.Reason)
			}
			if cur, err = movePiece(ctx, t, b, parts, pos); err != nil {
				return 0, err
			}
		case <-tick.C:
		}
	}
}

// setPieceWindow sets the mover's window to piece i of parts from record
// rec on: the rest of the piece, or everything after for the last one.
func setPieceWindow(ctx context.Context, c *client.Conn, parts []catalog.Location, i int, rec int64) error {
	p := parts[i]
	off := p.Offset + rec*int64(p.RecordSize)
	length := uint64(wire.LengthInfinity) - uint64(off)
	if i < len(parts)-1 {
		length = uint64(p.Offset + p.Length - off)
	}
	if err := c.MoverSetWindow(ctx, uint64(off), length); err != nil {
		return fmt.Errorf("MOVER_SET_WINDOW: %w", err)
	}
	return nil
}

// movePiece positions a paused mover's tape at stream offset pos, in
// whichever piece holds it, and continues the mover; it returns the piece.
func movePiece(ctx context.Context, t tapeSide, b catalog.Backup, parts []catalog.Location, pos int64) (int, error) {
	i := pieceAt(parts, pos)
	p := parts[i]
	rec := (pos - p.Offset) / int64(p.RecordSize)
	if err := positionPiece(ctx, t.d, b, p, uint32(rec)); err != nil {
		return i, err
	}
	if err := setPieceWindow(ctx, t.c, parts, i, rec); err != nil {
		return i, err
	}
	if err := t.c.MoverContinue(ctx); err != nil {
		return i, fmt.Errorf("MOVER_CONTINUE on %s: %w", t.name, err)
	}
	return i, nil
}

// drain empties the halt channels left from an earlier image.
func drain(p *posts) {
	for {
		select {
		case <-p.data:
		case <-p.mover:
		case <-p.paused:
		case <-p.reads:
		default:
			return
		}
	}
}

// tapeName is the name of a job's tape agent: t, or the data agent a.
func tapeName(a Agent, t *Agent) string {
	if t != nil {
		return t.Name
	}
	return a.Name
}
