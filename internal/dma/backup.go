package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/catalog/fh"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/volume"
)

// DefaultRecordSize is the tape record size of backup images.
const DefaultRecordSize = 256 << 10

// DefaultThreeWayRecordSize is the record size of 3-way backups: other
// vendors' movers may not take ferry's 256 KiB (Amanda's ndmjob stalls).
const DefaultThreeWayRecordSize = 64 << 10

// moverGrace bounds the wait for the mover once the data service halted.
const moverGrace = time.Minute

// maxAgentLevel is the highest LEVEL the NDMP environment carries; deeper
// incrementals send it with their base's DUMP_DATE as BASE_DATE.
const maxAgentLevel = 9

// BackupSpec describes a two-way backup job.
type BackupSpec struct {
	Agent Agent  // data agent (and tape agent unless Tape is set)
	Tape  *Agent // tape agent of a 3-way backup; nil: Agent
	Path  string // directory on the agent (FILESYSTEM)
	Drive string // tape drive on the agent; "" is tape0
	ChangerOptions
	Barcode string // cartridge in Drive, when the DMA knows it (else the changer, else the label tells)
	// OverwriteUnlabeled labels a cartridge holding data ferry did not
	// write (otherwise refused), losing that data.
	OverwriteUnlabeled bool
	Butype             string   // backup method; "" is tar
	Level              int      // 0 full; N>0 based on the newest backup of a lower level
	Incremental        bool     // based on the newest backup of the same agent and path, whatever its level
	Exclude            []string // EXCLUDE patterns
	RecordSize         int      // 0: DefaultRecordSize (DefaultThreeWayRecordSize for 3-way)
	// Pool is the pool the backup is written to: only cartridges of that
	// pool, or ones the catalog has not seen (which join it); "" is
	// catalog.DefaultPool.
	Pool string
	// Keep is how long the backup is kept after it ends: it expires then
	// (ferry prune), unless a kept incremental depends on it. 0 keeps it
	// until expired by hand.
	Keep time.Duration
	// Progress receives events every ProgressEvery (0: a second); it is
	// never waited for, and is not closed.
	Progress      chan<- Progress
	ProgressEvery time.Duration
}

func (s *BackupSpec) defaults() {
	if s.Drive == "" {
		s.Drive = "tape0"
	}
	if s.Butype == "" {
		s.Butype = "tar"
	}
	if s.Pool == "" {
		s.Pool = catalog.DefaultPool
	}
	if s.RecordSize <= 0 {
		s.RecordSize = DefaultRecordSize
		if s.Tape != nil {
			s.RecordSize = DefaultThreeWayRecordSize
		}
	}
}

// Backup runs a two-way backup job and records it in cat: the job, the
// backup with its environment and DUMP_DATE, its file history and its tape
// location. The image is appended after what the cartridge already holds,
// behind a header tape file (volume.Header). A failed or cancelled job is recorded
// as such, leaves the agent idle and returns an error; the backup it
// returns then carries the id.
func Backup(ctx context.Context, cat catalog.Catalog, s BackupSpec) (catalog.Backup, error) {
	s.defaults()
	base, level, err := pickBase(ctx, cat, s)
	if err != nil {
		return catalog.Backup{}, err
	}
	j, ctx, err := startJob(ctx, cat, "backup", 0, BackupJobSpec{Version: JobSpecVersion, Agent: s.Agent.Name,
		TapeAgent: tapeAgentName(s), Path: s.Path, Drive: s.Drive, Barcode: s.Barcode, Level: level,
		Pool: s.Pool, Keep: keepText(s.Keep)})
	if err != nil {
		return catalog.Backup{}, err
	}
	defer j.stop()
	job := j.rec
	b := &catalog.Backup{Agent: s.Agent.Name, Path: s.Path, Level: level, Butype: s.Butype,
		BaseID: base.ID, BaseToken: base.DumpDate, JobID: job.ID, Started: job.Started, Status: catalog.StatusRunning}
	if _, err := cat.CreateBackup(ctx, b); err != nil {
		return catalog.Backup{}, errors.Join(fmt.Errorf("dma: record backup: %w", err), j.finish(ctx, "backup", err, nil))
	}
	job.BackupID = b.ID
	if err := cat.UpdateJob(ctx, *job); err != nil {
		return catalog.Backup{}, errors.Join(fmt.Errorf("dma: record job: %w", err), j.finish(ctx, "backup", err, nil))
	}

	in := cat.Ingest(ctx, b.ID, catalog.IngestOptions{})
	rec := fh.New(in)
	p := newPosts(rec)
	p.sums = newChecksumWriter(ctx, cat, b.ID)
	r := &backupRun{spec: s, cat: cat, backup: b, posts: p, in: in}
	runErr := r.run(ctx)
	// The connection is closed: every post has been delivered.
	if err := rec.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("dma: file history: %w", err)
	}
	if err := p.historyErr(); err != nil && runErr == nil {
		runErr = fmt.Errorf("dma: file history: %w", err)
	}
	if err := in.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("dma: catalog file history: %w", err)
	}
	if _, err := p.sums.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("dma: catalog checksums: %w", err)
	}
	return finishBackup(ctx, cat, j, b, r, runErr)
}

func tapeAgentName(s BackupSpec) string { return tapeName(s.Agent, s.Tape) }

// pickBase finds the backup an incremental is based on and its level.
func pickBase(ctx context.Context, cat catalog.BackupCatalog, s BackupSpec) (catalog.Backup, int, error) {
	if !s.Incremental && s.Level == 0 {
		return catalog.Backup{}, 0, nil
	}
	bs, err := cat.Backups(ctx, catalog.BackupFilter{Agent: s.Agent.Name, Path: s.Path})
	if err != nil {
		return catalog.Backup{}, 0, fmt.Errorf("dma: catalog: %w", err)
	}
	for i := len(bs) - 1; i >= 0; i-- {
		b := bs[i]
		if !b.Completed() || b.DumpDate == "" || (len(b.Locations) == 0 && !hasLocation(ctx, cat, b.ID)) {
			continue
		}
		if s.Incremental {
			return b, b.Level + 1, nil
		}
		if b.Level < s.Level {
			return b, s.Level, nil
		}
	}
	if s.Incremental {
		return catalog.Backup{}, 0, nil // nothing to base on: a full backup
	}
	return catalog.Backup{}, 0, fmt.Errorf("dma: no backup below level %d of %s:%s to base on; run a full backup first", s.Level, s.Agent.Name, s.Path)
}

func hasLocation(ctx context.Context, cat catalog.BackupCatalog, id int64) bool {
	b, err := cat.Backup(ctx, id)
	return err == nil && len(b.Locations) > 0
}

// backupRun is the NDMP side of one backup job.
type backupRun struct {
	spec   BackupSpec
	cat    catalog.Catalog
	backup *catalog.Backup
	posts  *posts // the data agent's
	in     *catalog.Ingester

	dc, tc    *client.Conn // data and tape connections (the same in 2-way)
	tapePosts *posts       // the tape agent's (posts in 2-way)
	d         *drive       // the tape agent's drive (on tc)

	volume     string             // the cartridge written now: barcode or label
	imageFile  int                // its tape file holding the current piece
	partOffset int64              // stream offset the current piece starts at
	parts      []catalog.Location // pieces on cartridges that filled up
	reused     []string           // cartridges written from their start: scratch in the catalog
	skipped    []string           // cartridges spanning found unusable
	bytes      int64
	env        []wire.PVal
}

func (r *backupRun) run(ctx context.Context) (err error) {
	s := r.spec
	dc, err := s.Agent.Dial(ctx, r.posts.post)
	if err != nil {
		return err
	}
	defer dc.Close()
	r.dc, r.tc, r.tapePosts = dc, dc, r.posts
	// Ferry's agents then post each file's data checksum, for verify.
	dc.SelectFerryExtension(ctx)
	tapeName := s.Agent.Name
	if s.Tape != nil {
		r.tapePosts = newPosts(nil)
		if r.tc, err = s.Tape.Dial(ctx, r.tapePosts.post); err != nil {
			return err
		}
		defer r.tc.Close()
		tapeName = s.Tape.Name
	}
	c := r.tc
	ta := s.Agent
	if s.Tape != nil {
		ta = *s.Tape
	}
	r.d = newDrive(ta, c, s.Drive, wire.TapeRdwrMode, s.ChangerOptions)
	started := false
	defer func() {
		if err != nil {
			r.abort(started)
			return
		}
		if r.d.open {
			cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
			defer cancel()
			if cerr := c.TapeClose(cctx); cerr != nil {
				err = fmt.Errorf("dma: close tape: %w", cerr)
			}
			r.d.open = false
		}
		r.d.Close()
	}()
	barcode, err := r.d.loaded(ctx, s.Barcode, r.rank)
	if err != nil {
		err = fmt.Errorf("dma: tape drive %s on %s: %w", s.Drive, tapeName, err)
		return damagedTape(context.WithoutCancel(ctx), r.cat, barcode, r.tapePosts, err)
	}
	if err := r.startPiece(ctx, barcode, 0); err != nil {
		return err
	}
	if s.Tape == nil {
		err = connectLocal(ctx, c, s.RecordSize)
	} else {
		err = connectRemote(ctx, r.dc, c, s.RecordSize)
	}
	if err != nil {
		return err
	}
	started = true
	if err := r.dc.DataStartBackup(ctx, s.Butype, r.environment()); err != nil {
		return fmt.Errorf("dma: start backup of %s: %w", s.Path, refusal(err, r.posts))
	}
	if err := r.wait(ctx); err != nil {
		return err
	}
	if r.env, err = r.dc.DataGetEnv(ctx); err != nil {
		return fmt.Errorf("dma: DATA_GET_ENV: %w", err)
	}
	ms, err := c.MoverGetState(ctx)
	if err != nil {
		return fmt.Errorf("dma: MOVER_GET_STATE: %w", err)
	}
	r.bytes = int64(ms.BytesMoved)
	if err := r.dc.DataStop(ctx); err != nil {
		return fmt.Errorf("dma: DATA_STOP: %w", err)
	}
	if err := c.MoverStop(ctx); err != nil {
		return fmt.Errorf("dma: MOVER_STOP: %w", err)
	}
	if _, err := c.TapeMtio(ctx, wire.MtioEOF, 1); err != nil {
		return fmt.Errorf("dma: filemark after the image: %w", err)
	}
	return writeTrailer(ctx, c, r.trailer())
}

// startPiece labels or checks the cartridge open in the drive and writes
// the header of the image's piece starting at stream offset off.
func (r *backupRun) startPiece(ctx context.Context, barcode string, off int64) error {
	s, c := r.spec, r.tc
	reuse := false
	if m, err := r.cat.Medium(ctx, barcode); err == nil && barcode != "" && m.State == catalog.MediaScratch {
		reuse = true
	}
	l, file, err := prepareVolume(ctx, c, barcode, s.OverwriteUnlabeled, reuse)
	if err != nil {
		return err
	}
	if reuse {
		r.reused = append(r.reused, l.Volume)
	}
	host, _ := os.Hostname()
	h := volume.Header{BackupID: r.backup.ID, UUID: r.backup.UUID, Agent: s.Agent.Name, Path: s.Path, Butype: s.Butype, Level: r.backup.Level,
		BaseID: r.backup.BaseID, BaseUUID: r.backup.BaseUUID, BaseToken: r.backup.BaseToken, Started: r.backup.Started, Host: host,
		Barcode: l.Volume, ImageFile: file + 1, RecordSize: s.RecordSize, Part: len(r.parts), Offset: off}
	if err := writeHeader(ctx, c, h); err != nil {
		return err
	}
	r.volume, r.imageFile, r.partOffset = l.Volume, file+1, off
	return nil
}

// span continues the image on another cartridge after the mover paused at
// the end of the medium: the piece written is closed with a filemark and
// recorded, the changer swaps in a cartridge the catalog does not know as
// full, and a header for the next piece precedes the rest of the stream.
func (r *backupRun) span(ctx context.Context) error {
	c := r.tc
	ms, err := c.MoverGetState(ctx)
	if err != nil {
		return fmt.Errorf("dma: MOVER_GET_STATE: %w", err)
	}
	end := int64(ms.BytesMoved)
	// Past early warning there is room for a filemark; if not, a reader
	// stops at the end of data all the same.
	c.TapeMtio(ctx, wire.MtioEOF, 1)
	r.parts = append(r.parts, r.location(end))
	rb, err := r.d.changer(ctx)
	if err != nil {
		return err
	}
	if rb == nil {
		return fmt.Errorf("%w: the tape agent has no changer to load another", ErrTapeFull)
	}
	defer r.d.release()
	var next string
	for {
		err = r.d.swap(ctx, func() error {
			els, err := rb.status(ctx)
			if err != nil {
				return err
			}
			e, ok := scratch(els, r.rank)
			if !ok {
				return fmt.Errorf("%w: no other usable cartridge in changer %s; import blank cartridges", ErrTapeFull, rb.device)
			}
			next = e.Barcode
			return rb.load(ctx, r.d.name, next)
		})
		if err != nil {
			return err
		}
		err = r.startPiece(ctx, next, end)
		if !errors.Is(err, ErrForeignTape) && !errors.Is(err, ErrWrongTape) {
			break
		}
		// Someone else's data, or a label that belies its barcode: left
		// as it is, and the next cartridge tried.
		r.posts.log("warning", fmt.Sprintf("cartridge %s skipped for the rest of backup %d: %v", next, r.backup.ID, err))
		r.skipped = append(r.skipped, next)
	}
	if err != nil {
		return err
	}
	if err := c.MoverContinue(ctx); err != nil {
		return fmt.Errorf("dma: MOVER_CONTINUE on %s: %w", next, err)
	}
	return nil
}

// rank says whether the job may write on the cartridge with barcode (0:
// not one it filled or skipped already, nor one the catalog knows as full
// or in another pool) and how much it prefers it: a cartridge of its pool
// being appended to first, then one of its pool returned to scratch, then
// one the catalog has not seen, so recycled media are used before new.
func (r *backupRun) rank(barcode string) int {
	if slices.Contains(r.skipped, barcode) {
		return 0
	}
	for _, p := range r.parts {
		if p.Barcode == barcode {
			return 0
		}
	}
	m, err := r.cat.Medium(context.Background(), barcode)
	switch {
	case err != nil:
		return 1
	case !m.State.Writable() || m.Pool != r.spec.Pool:
		return 0
	case m.State == catalog.MediaAppend:
		return 3
	}
	return 2
}

// location is the piece being written, ending at stream offset end.
func (r *backupRun) location(end int64) catalog.Location {
	return catalog.Location{BackupID: r.backup.ID, Seq: len(r.parts), Barcode: r.volume, FileNum: r.imageFile,
		RecordSize: r.spec.RecordSize, Offset: r.partOffset, Length: end - r.partOffset}
}

// trailer describes the finished image for a catalog rebuild.
func (r *backupRun) trailer() volume.Trailer {
	t := volume.Trailer{BackupID: r.backup.ID, UUID: r.backup.UUID, Ended: time.Now().UTC(), Bytes: r.bytes}
	for _, p := range r.env {
		t.Env = append(t.Env, catalog.Env{Name: p.Name, Value: p.Value})
		if p.Name == "DUMP_DATE" {
			t.DumpDate = p.Value
		}
	}
	return t
}

// connectLocal sets the mover up to write records and connects the data
// service to it: LOCAL when the agent offers it, else TCP.
func connectLocal(ctx context.Context, c *client.Conn, recordSize int) error {
	if err := c.MoverSetRecordSize(ctx, uint32(recordSize)); err != nil {
		return fmt.Errorf("dma: MOVER_SET_RECORD_SIZE: %w", err)
	}
	if err := c.MoverSetWindow(ctx, 0, wire.LengthInfinity); err != nil {
		return fmt.Errorf("dma: MOVER_SET_WINDOW: %w", err)
	}
	a, err := c.MoverListen(ctx, wire.MoverModeRead, wire.AddrLocal)
	if err != nil {
		if a, err = c.MoverListen(ctx, wire.MoverModeRead, wire.AddrTCP); err != nil {
			return fmt.Errorf("dma: MOVER_LISTEN: %w", err)
		}
	}
	if err := c.DataConnect(ctx, a); err != nil {
		return fmt.Errorf("dma: DATA_CONNECT: %w", err)
	}
	return nil
}

func (r *backupRun) environment() []wire.PVal {
	s, b := r.spec, r.backup
	env := []wire.PVal{
		{Name: "FILESYSTEM", Value: s.Path},
		{Name: "TYPE", Value: s.Butype},
		{Name: "HIST", Value: "y"},
		{Name: "LEVEL", Value: strconv.Itoa(min(b.Level, maxAgentLevel))},
	}
	if b.BaseToken != "" {
		env = append(env, wire.PVal{Name: "BASE_DATE", Value: b.BaseToken})
	}
	if len(s.Exclude) > 0 {
		env = append(env, wire.PVal{Name: "EXCLUDE", Value: strings.Join(s.Exclude, ",")})
	}
	return env
}

// connectRemote sets up a 3-way backup: the tape agent's mover listens on
// TCP and the data agent's data service connects to it.
func connectRemote(ctx context.Context, dc, tc *client.Conn, recordSize int) error {
	if err := tc.MoverSetRecordSize(ctx, uint32(recordSize)); err != nil {
		return fmt.Errorf("dma: MOVER_SET_RECORD_SIZE: %w", err)
	}
	if err := tc.MoverSetWindow(ctx, 0, wire.LengthInfinity); err != nil {
		return fmt.Errorf("dma: MOVER_SET_WINDOW: %w", err)
	}
	a, err := tc.MoverListen(ctx, wire.MoverModeRead, wire.AddrTCP)
	if err != nil {
		return fmt.Errorf("dma: MOVER_LISTEN on the tape agent: %w", err)
	}
	if err := dc.DataConnect(ctx, a); err != nil {
		return fmt.Errorf("dma: DATA_CONNECT of the data agent to the tape agent's mover: %w", err)
	}
	return nil
}

// wait waits for the data service and the mover to halt, sending progress.
func (r *backupRun) wait(ctx context.Context) error {
	c := r.dc
	m := newMeter(r.spec.Progress, "backup")
	m.send(0, 0, 0) // started
	tick := time.NewTicker(cmp.Or(r.spec.ProgressEvery, time.Second))
	defer tick.Stop()
	dataDone, moverDone := false, false
	var moverLate <-chan time.Time // runs once the data service is done
	for !dataDone || !moverDone {
		select {
		case <-moverLate:
			return fmt.Errorf("dma: the mover did not finish within %v of the data service (is the record size, %d, too large for the tape agent?)", moverGrace, r.spec.RecordSize)
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return fmt.Errorf("dma: agent %s closed the connection: %v", r.spec.Agent.Name, c.Err())
		case <-r.tc.Done():
			return fmt.Errorf("dma: tape agent closed the connection: %v", r.tc.Err())
		case pause := <-r.tapePosts.paused:
			if pause.Reason != wire.MoverPauseEOM {
				return fmt.Errorf("dma: mover paused (%v)", pause.Reason)
			}
			if err := r.span(ctx); err != nil {
				return err
			}
		case why := <-r.posts.data:
			if why != wire.DataHaltSuccessful {
				return r.agentError("backup", why.String())
			}
			dataDone = true
			moverLate = time.After(moverGrace)
		case why := <-r.tapePosts.mover:
			// The mover halts once the data connection closes, which may
			// be reported before the data service's halt.
			if why != wire.MoverHaltConnectClosed {
				return r.agentError("mover", why.String())
			}
			moverDone = true
		case <-tick.C:
			if st, err := c.DataGetState(ctx); err == nil && !dataDone {
				m.send(int64(st.BytesProcessed), r.in.Count(), int64(st.EstBytesRemain))
			}
		}
	}
	return nil
}

func (r *backupRun) agentError(what, why string) error {
	msg := fmt.Sprintf("dma: %s on %s halted (%s)", what, r.spec.Agent.Name, why)
	if l := r.posts.lastError(); l != "" {
		msg += ": " + l
	}
	return errors.New(msg)
}

// abort leaves the agent idle after a failed or cancelled job, closing the
// partial image with a filemark so the next backup appends after it.
func (r *backupRun) abort(started bool) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if started {
		r.dc.DataAbort(ctx)
		r.tc.MoverAbort(ctx)
		r.dc.DataStop(ctx)
		r.tc.MoverStop(ctx)
	}
	if r.d.open {
		r.tc.TapeMtio(ctx, wire.MtioEOF, 1)
	}
	r.d.Close()
}

// finishBackup records the outcome of a backup job.
func finishBackup(ctx context.Context, cat catalog.Catalog, j *jobRun, b *catalog.Backup, r *backupRun, runErr error) (catalog.Backup, error) {
	// The outcome is recorded even when the job's context was cancelled.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	res := catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: time.Now().UTC(), Bytes: r.bytes, Files: r.in.Count()}
	for _, p := range r.env {
		res.Env = append(res.Env, catalog.Env{Name: p.Name, Value: p.Value})
		if p.Name == "DUMP_DATE" {
			res.DumpDate = p.Value
		}
	}
	if runErr == nil && res.DumpDate == "" {
		runErr = fmt.Errorf("dma: agent %s returned no DUMP_DATE; incrementals could not be based on this backup", r.spec.Agent.Name)
	}
	if runErr == nil {
		for _, l := range append(r.parts, r.location(r.bytes)) {
			if runErr = cat.AddLocation(rctx, l); runErr != nil {
				break
			}
		}
	}
	lines := r.posts.lines()
	if r.tapePosts != nil && r.tapePosts != r.posts {
		lines = append(lines, r.tapePosts.lines()...)
	}
	runErr = j.settle(ctx, fmt.Sprintf("backup %d", b.ID), runErr, lines)
	switch j.rec.State {
	case catalog.JobWarnings:
		res.Status = catalog.StatusWarnings
	case catalog.JobCancelled:
		res.Status = catalog.StatusCancelled
	case catalog.JobFailed:
		res.Status = catalog.StatusFailed
	}
	res.Error, res.Ended = j.rec.Error, j.rec.Ended
	err := errors.Join(cat.FinishBackup(rctx, b.ID, res), j.record(ctx, fmt.Sprintf("backup %d", b.ID)))
	for _, l := range append(r.parts, r.location(r.bytes)) {
		if l.Barcode == "" || l.FileNum == 0 {
			continue
		}
		m, merr := cat.Medium(rctx, l.Barcode)
		if merr != nil {
			m = catalog.Medium{Barcode: l.Barcode, Label: l.Barcode, Library: tapeAgentName(r.spec)}
		}
		// The next backup starts after the image's trailer; a piece that
		// filled its cartridge, or a failed job's partial image, has none.
		m.NextFile, m.Updated = l.FileNum+1, res.Ended
		to := catalog.MediaAppend
		if l.Seq < len(r.parts) {
			to = catalog.MediaFull
		} else if runErr == nil {
			m.NextFile++
		}
		if i := slices.Index(r.reused, l.Barcode); i >= 0 {
			m.Used = 0 // what the expired backups left is overwritten
			r.reused = slices.Delete(r.reused, i, i+1)
		}
		m.Used += l.Length
		m.Pool = r.spec.Pool
		err = errors.Join(err, m.Move(to), cat.PutMedium(rctx, m))
	}
	if r.spec.Keep > 0 && (res.Status == catalog.StatusSucceeded || res.Status == catalog.StatusWarnings) {
		err = errors.Join(err, cat.SetExpiry(rctx, b.ID, res.Ended.Add(r.spec.Keep)))
	}
	if err != nil {
		err = fmt.Errorf("dma: record the outcome of backup %d: %w", b.ID, err)
	}
	out, gerr := cat.Backup(rctx, b.ID)
	if gerr != nil {
		out = *b
	}
	return out, errors.Join(runErr, err)
}
