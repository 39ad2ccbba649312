package tarengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/format"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
	"ferry/internal/restore"
)

var errNotInStream = errors.New("tarengine: not in the backup")

// target is one nlist entry: what to restore and where.
type target struct {
	name   wire.Name
	orig   string // clean name in the stream ("." for everything)
	dest   string // clean name under the destination root
	fhInfo int64  // header offset; -1 when unknown
	found  bool
	err    error
}

// recoverEnv is a recover's parsed environment.
type recoverEnv struct {
	recursive, direct, overwrite bool
	// set names the chain restore this recover is part of
	// (FERRY_RESTORE_SET); last ends it (FERRY_RESTORE_LAST).
	set  string
	last bool
	// pruneExisting lets the listing remove what the destination held
	// before: FERRY_PRUNE_EXISTING, or OVERWRITE from a DMA that names no
	// restore set.
	pruneExisting bool
	base          string // PREFIX, else FILESYSTEM: where an nlist entry without destination goes
	hist          histKind
	// keepDamaged keeps a file failing its checksum as NAME.ferry-damaged
	// (FERRY_KEEP_DAMAGED); entries is how many entries the whole stream
	// holds by the DMA's catalog (FERRY_ENTRIES, 0: unknown).
	keepDamaged bool
	entries     int64
}

func parseRecoverEnv(env []wire.PVal) (*recoverEnv, error) {
	r := &recoverEnv{}
	var err error
	if r.recursive, err = yes(env, "RECURSIVE", true); err != nil {
		return nil, err
	}
	if r.direct, err = yes(env, "DIRECT", true); err != nil {
		return nil, err
	}
	if r.overwrite, err = yes(env, "OVERWRITE", false); err != nil {
		return nil, err
	}
	if r.hist, err = parseHist(env); err != nil {
		return nil, err
	}
	r.set, _ = envLookup(env, "FERRY_RESTORE_SET")
	if r.last, err = yes(env, "FERRY_RESTORE_LAST", false); err != nil {
		return nil, err
	}
	if r.pruneExisting, err = yes(env, "FERRY_PRUNE_EXISTING", r.set == "" && r.overwrite); err != nil {
		return nil, err
	}
	if r.keepDamaged, err = yes(env, "FERRY_KEEP_DAMAGED", false); err != nil {
		return nil, err
	}
	if v, ok := envLookup(env, "FERRY_ENTRIES"); ok {
		if r.entries, err = strconv.ParseInt(v, 10, 64); err != nil || r.entries < 0 {
			return nil, fmt.Errorf("%w: FERRY_ENTRIES=%q is not a count", ErrBadEnv, v)
		}
	}
	r.base, _ = envLookup(env, "PREFIX")
	if r.base == "" {
		r.base, _ = envLookup(env, "FILESYSTEM")
	}
	return r, nil
}

// Recover restores job.Nlist from the stream (RECOVER) or lists the stream
// as file history (RECOVER_FILEHIST).
func (e *Engine) Recover(ctx context.Context, job *data.Job) error {
	lg := logger{job: job, log: e.log}
	env, err := parseRecoverEnv(job.Env)
	if err != nil {
		return lg.illegal(err)
	}
	if job.Operation == wire.DataOpRecoverFilehist {
		return e.filehist(ctx, job, lg, env)
	}
	rootDir, targets, err := e.targets(job.Nlist, env)
	if err != nil {
		return lg.illegal(err)
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return lg.illegal(err)
	}
	defer root.Close()
	r := &recovery{job: job, lg: lg, env: env, root: root, targets: targets}
	if env.set != "" {
		rs, err := e.sets.get(env.set)
		if err != nil {
			return lg.illegal(err)
		}
		r.written, r.noPrune = rs.written, e.sets.hasFailed(env.set)
	}
	if r.useDAR() {
		err = r.direct(ctx)
	} else {
		err = r.sequential(ctx)
	}
	if env.set != "" {
		e.sets.done(env.set, err != nil || r.sum.Failed > 0, env.last)
	}
	r.logFiles()
	settle(ctx)
	return err
}

// recoverSettle separates the last posts of a recover from its halt.
// NDMJOB's recover monitor polls DATA then MOVER state as soon as a post
// wakes it; if the halt (which closes the connection and halts the mover)
// falls between the two replies it sees DATA active beside a halted MOVER,
// a case its recover loop lacks, and cancels a successful job.
const recoverSettle = 300 * time.Millisecond

func settle(ctx context.Context) {
	select {
	case <-time.After(recoverSettle):
	case <-ctx.Done():
	}
}

// targets resolves the nlist against the exports: one destination root (the
// export holding the first destination) and each entry's names.
func (e *Engine) targets(nlist []wire.Name, env *recoverEnv) (string, []*target, error) {
	if len(nlist) == 0 {
		nlist = []wire.Name{{OriginalPath: "/", FhInfo: wire.LengthInfinity}}
	}
	var root string
	var ts []*target
	for _, n := range nlist {
		orig, err := relName(n.OriginalPath)
		if err != nil {
			return "", nil, fmt.Errorf("%w: nlist: %v", ErrBadEnv, err)
		}
		abs := destination(n, orig, env.base)
		if abs == "" {
			return "", nil, fmt.Errorf("%w: nlist entry %q has no destination and neither PREFIX nor FILESYSTEM is set", ErrBadEnv, n.OriginalPath)
		}
		base, rest, err := resolveDest(abs, e.cfg.Exports)
		if err != nil {
			return "", nil, err
		}
		if root == "" {
			root = exportOf(base, e.cfg.Exports)
		}
		rel, err := filepath.Rel(root, filepath.Join(base, rest))
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", nil, fmt.Errorf("%w: %q is not under %s like the first destination", ErrNotExported, abs, root)
		}
		t := &target{name: n, orig: orig, dest: filepath.ToSlash(rel), fhInfo: -1}
		if n.FhInfo != wire.LengthInfinity && n.FhInfo < 1<<62 {
			t.fhInfo = int64(n.FhInfo)
		}
		ts = append(ts, t)
	}
	return root, ts, nil
}

// destination is where an nlist entry goes: DestinationDir/Name when the
// DMA names the file anew (v3 new_name), DestinationDir as the full path
// (NDMJOB sends it so), else the base directory joined with the original
// path.
func destination(n wire.Name, orig, base string) string {
	switch {
	case n.DestinationDir != "" && n.Name != "":
		return filepath.Join(n.DestinationDir, n.Name)
	case n.DestinationDir != "":
		return filepath.Clean(n.DestinationDir)
	case base != "":
		return filepath.Join(base, orig)
	}
	return ""
}

// exportOf returns the resolved export that holds dir.
func exportOf(dir string, exports []string) string {
	best := dir
	for _, e := range exports {
		re, err := filepath.EvalSymlinks(e)
		if err != nil {
			continue
		}
		if (dir == re || strings.HasPrefix(dir, strings.TrimSuffix(re, "/")+"/")) && (best == dir || len(re) < len(best)) {
			best = re
		}
	}
	return best
}

// recovery is one RECOVER job in progress.
type recovery struct {
	job     *data.Job
	lg      logger
	env     *recoverEnv
	root    *os.Root
	targets []*target
	x       *restore.Extractor
	read    int64
	sum     restore.Summary
	written *restore.Written // the chain restore's names written; nil: none kept
	noPrune bool             // an earlier recover of the chain failed
	cur     *format.Reader   // DAR: the reader of the current nlist entry
}

// useDAR: every entry has a position and DIRECT allows it.
func (r *recovery) useDAR() bool {
	if !r.env.direct {
		return false
	}
	for _, t := range r.targets {
		if t.fhInfo < 0 {
			return false
		}
	}
	return true
}

func (r *recovery) options() restore.Options {
	// Without a restore set the listing has only this recover's own
	// writes, which it always holds: nothing to record.
	opts := restore.Options{Overwrite: r.env.overwrite, Report: r.report,
		Written: r.written, PruneExisting: r.env.pruneExisting, NoPrune: r.noPrune,
		KeepDamaged: r.env.keepDamaged}
	if r.job.RecoverChecksums != nil {
		opts.Checksum = r.job.RecoverChecksums.Lookup
	}
	return opts
}

// sequential reads the whole stream once and restores what the nlist
// selects. A full restore asks for everything at once; a partial one reads
// on demand, so a hard link whose data lies under an unselected name can
// go back for it and return.
func (r *recovery) sequential(ctx context.Context) error {
	opts := r.options()
	opts.Select = r.selectName
	if r.full() {
		if err := r.job.Recovery.Request(0, wire.LengthInfinity); err != nil {
			return err
		}
		cr := &countingReader{r: r.job.Recovery}
		rd := format.NewReader(cr)
		opts.Offset, opts.Entries = rd.Offset, r.env.entries
		sum, err := restore.New(r.root, opts).Extract(ctx, rd)
		r.sum, r.read = sum, cr.n
		r.summary()
		return r.streamErr(r.short(err, rd))
	}
	d := newDemandReader(r.job.Recovery, seqMax)
	rd := format.NewReader(d)
	opts.Offset, opts.Entries = rd.Offset, r.env.entries
	opts.ReadAt = func(off int64, fn func(restore.Source) error) error {
		back := d.pos
		if err := d.seek(off); err != nil {
			return err
		}
		err := fn(format.NewReaderAt(d, off))
		if serr := d.seek(back); err == nil {
			err = serr
		}
		return err
	}
	sum, err := restore.New(r.root, opts).Extract(ctx, rd)
	r.sum, r.read = sum, d.read
	r.summary()
	return r.streamErr(r.short(err, rd))
}

// full reports a restore of everything (one nlist entry for the root).
func (r *recovery) full() bool {
	return len(r.targets) == 1 && r.targets[0].orig == "."
}

// selectName maps a stream name to its destination through the most
// specific nlist entry that covers it.
func (r *recovery) selectName(name string) (string, bool) {
	var best *target
	for _, t := range r.targets {
		if !r.covers(t.orig, name) {
			continue
		}
		if best == nil || len(t.orig) > len(best.orig) {
			best = t
		}
	}
	if best == nil {
		return "", false
	}
	if best.orig == name || best.orig == "." {
		best.found = true
	}
	return joinRel(best.dest, best.orig, name), true
}

func (r *recovery) covers(orig, name string) bool {
	if orig == name {
		return true
	}
	if !r.env.recursive {
		return false
	}
	return orig == "." || strings.HasPrefix(name, orig+"/")
}

// joinRel places name, found under orig, below dest.
func joinRel(dest, orig, name string) string {
	if orig == "." {
		return path.Join(dest, name)
	}
	return path.Join(dest, strings.TrimPrefix(name, orig))
}

// report records per-entry results: errors of nlist entries go to their
// LOG_FILE, the others to LOG_MESSAGE.
func (r *recovery) report(res restore.Result) {
	name, _ := format.CleanName(res.Name)
	for _, t := range r.targets {
		if t.orig == name && res.Err != nil {
			t.err = res.Err
		}
	}
	if res.Err != nil {
		// A file left out fails the restore: the DMA hears it by name, as
		// an error and in a LOG_FILE of its own (an nlist entry's comes
		// at the end).
		r.lg.message(wire.LogError, "%s: not restored: %v", fhPath(name), res.Err)
		if !r.isTarget(name) {
			r.lg.file(fhPath(name), res.Err)
		}
	}
	if res.Meta != nil {
		r.lg.message(wire.LogWarning, "%s: %v", fhPath(name), res.Meta)
	}
}

// isTarget reports whether name is an nlist entry's own name.
func (r *recovery) isTarget(name string) bool {
	for _, t := range r.targets {
		if t.orig == name {
			return true
		}
	}
	return false
}

// short turns a stream that ended before the entries the DMA's catalog
// lists into the recover's error, and tells the DMA, through DATA_GET_ENV,
// how many entries came and the stream offset where they stopped, so it
// can name the catalogued entries at or after it.
func (r *recovery) short(err error, rd *format.Reader) error {
	var se *restore.ShortError
	if !errors.As(err, &se) {
		return err
	}
	r.job.SetEnv("FERRY_ENTRIES_DELIVERED", strconv.FormatInt(se.Got, 10))
	r.job.SetEnv("FERRY_STREAM_END", strconv.FormatInt(rd.Offset(), 10))
	return err
}

// direct restores each entry from its own position (DAR), in stream order.
func (r *recovery) direct(ctx context.Context) error {
	d := newDemandReader(r.job.Recovery, darMax)
	opts := r.options()
	opts.Offset = func() int64 { return r.cur.Offset() }
	r.x = restore.New(r.root, opts)
	order := slices.Clone(r.targets)
	slices.SortStableFunc(order, func(a, b *target) int { return int(a.fhInfo - b.fhInfo) })
	var err error
	for _, t := range order {
		if err = ctx.Err(); err != nil {
			break
		}
		if r.coveredByDone(t) {
			continue
		}
		if err = r.directOne(ctx, d, t); err != nil {
			break
		}
	}
	r.sum = r.x.Finish()
	r.read = d.read
	r.summary()
	return r.streamErr(err)
}

// coveredByDone: a recursive directory entry already restored t's name.
func (r *recovery) coveredByDone(t *target) bool {
	for _, o := range r.targets {
		if o != t && o.found && o.err == nil && r.env.recursive && o.orig != t.orig && r.covers(o.orig, t.orig) {
			t.found = true
			return true
		}
	}
	return false
}

// directOne restores one nlist entry: the entry at its offset and, for a
// directory, the entries after it while they lie inside it.
func (r *recovery) directOne(ctx context.Context, d *demandReader, t *target) error {
	if err := d.seek(t.fhInfo); err != nil {
		return err
	}
	rd := format.NewReaderAt(d, t.fhInfo)
	r.cur = rd
	e, err := rd.Next()
	if err != nil {
		t.err = fmt.Errorf("%w: no entry at offset %d: %v", errNotInStream, t.fhInfo, err)
		return connErr(err)
	}
	name, _ := format.CleanName(e.Name)
	if name != t.orig && e.Type != format.Regular {
		t.err = fmt.Errorf("%w: offset %d holds %q", errNotInStream, t.fhInfo, e.Name)
		return nil
	}
	t.found = true
	res := r.x.RestoreEntry(ctx, rd, e, t.dest)
	if res.Err != nil || e.Type != format.Dir || !r.env.recursive {
		return nil
	}
	for {
		e, err := rd.Next()
		if err != nil {
			return connErr(err)
		}
		n, cerr := format.CleanName(e.Name)
		if cerr != nil || !r.covers(t.orig, n) || n == t.orig {
			return nil
		}
		r.x.RestoreEntry(ctx, rd, e, joinRel(t.dest, t.orig, n))
	}
}

// connErr keeps only failures of the connection: the end of the stream or a
// bad header ends a DAR range, not the job.
func connErr(err error) error {
	if err == io.EOF || errors.Is(err, format.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// streamErr turns a damaged stream into a logged failure of the job.
func (r *recovery) streamErr(err error) error {
	if err == nil {
		return nil
	}
	r.lg.message(wire.LogError, "recover: %v", err)
	return err
}

func (r *recovery) summary() {
	r.lg.message(wire.LogNormal, "tar recover: %d restored, %d failed, %d skipped, %d bytes written, %d stream bytes read",
		r.sum.Restored, r.sum.Failed, r.sum.Skipped, r.sum.Bytes, r.read)
}

// logFiles posts LOG_FILE for every nlist entry.
func (r *recovery) logFiles() {
	for _, t := range r.targets {
		err := t.err
		if err == nil && !t.found {
			err = errNotInStream
		}
		name := t.name.OriginalPath
		if name == "" {
			name = "/"
		}
		r.lg.file(name, err)
	}
}

// filehist reads the stream and posts its file history without writing.
func (e *Engine) filehist(ctx context.Context, job *data.Job, lg logger, env *recoverEnv) error {
	if err := job.Recovery.Request(0, wire.LengthInfinity); err != nil {
		return err
	}
	hist := newHistory(ctx, job.Post)
	rd := format.NewReader(job.Recovery)
	var node uint64
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		var ent *format.Entry
		ent, err = rd.Next()
		if err != nil {
			break
		}
		name, cerr := format.CleanName(ent.Name)
		if cerr != nil || name == restore.ListingName {
			continue
		}
		node++
		hist.add(fhItem{kind: fhFile, file: wire.FhFile{
			Names: unixName(fhPath(name)), Stats: []wire.FileStat{fileStat(ent, 1)},
			Node: node, FhInfo: uint64(rd.Offset()),
		}})
	}
	n := hist.close()
	if err == io.EOF {
		err = nil
	}
	lg.message(wire.LogNormal, "tar file history: %d entries", n)
	for _, nm := range job.Nlist {
		lg.file(nm.OriginalPath, err)
	}
	if err != nil {
		lg.message(wire.LogError, "recover file history: %v", err)
	}
	return err
}
