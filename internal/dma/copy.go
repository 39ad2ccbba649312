package dma

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// CopySpec describes a copy job: the data service of one agent backs a
// directory up straight into the data service of another (or the same),
// which recovers it into a directory: NDMP data-to-data, no tape.
type CopySpec struct {
	Src, Dst         Agent
	SrcPath, DstPath string
	// Level N copies what changed since the newest copy of the same source
	// and destination at a lower level; Incremental since the newest at
	// any level (its level + 1, no ceiling). Without either, a full copy.
	Level       int
	Incremental bool
	// ListenSrc makes the source's data service listen and the
	// destination's connect (by default the destination listens), for
	// firewalls that let connections through one way only.
	ListenSrc bool
	Exclude   []string
	// Overwrite replaces files at the destination on a full copy
	// (incrementals always do).
	Overwrite bool
	Progress  chan<- Progress
}

// CopyResult is the outcome of a copy job, also kept in its job's spec.
type CopyResult struct {
	Version   int     `json:"version"` // JobSpecVersion
	JobID     int64   `json:"job_id"`
	Src       string  `json:"src"`
	Dst       string  `json:"dst"`
	Level     int     `json:"level"`
	BaseJob   int64   `json:"base_job,omitempty"`
	BaseToken string  `json:"base_token,omitempty"`
	DumpDate  string  `json:"dump_date,omitempty"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	// State is the job's final state (completed_with_warnings when an
	// agent logged files it could not copy).
	State string `json:"state,omitempty"`
}

// copyKind is the job kind of copies in the catalog.
const copyKind = "copy"

// Copy runs a copy job and records it (kind copy) with its level and the
// source's DUMP_DATE token, which the next incremental copy of the same
// source and destination is based on. The migration workflow: a full copy
// while the source is in use, incrementals to catch up, then writers
// stopped and a final incremental. Deleted and renamed files are removed
// at the destination by each incremental's listing.
func Copy(ctx context.Context, cat catalog.Catalog, s CopySpec) (CopyResult, error) {
	res := CopyResult{Version: JobSpecVersion, Src: s.Src.Name + ":" + s.SrcPath, Dst: s.Dst.Name + ":" + s.DstPath}
	base, level, err := copyBase(ctx, cat, res.Src, res.Dst, s)
	if err != nil {
		return res, err
	}
	res.Level, res.BaseJob, res.BaseToken = level, base.JobID, base.DumpDate
	j, ctx, err := startJob(ctx, cat, copyKind, 0, res)
	if err != nil {
		return res, err
	}
	res.JobID = j.rec.ID
	start := time.Now()
	sp, dp := newPosts(nil), newPosts(nil)
	runErr := runCopy(ctx, s, &res, sp, dp)
	res.Seconds = time.Since(start).Seconds()
	if runErr == nil && res.DumpDate == "" {
		runErr = fmt.Errorf("dma: agent %s returned no DUMP_DATE; incremental copies could not follow this one", s.Src.Name)
	}
	runErr = j.settle(ctx, "copy", runErr, append(sp.lines(), dp.lines()...))
	res.State = j.rec.State
	// The result, with the DUMP_DATE the next incremental copy follows,
	// is the job's spec.
	spec, err := json.Marshal(res)
	if err == nil {
		j.rec.Spec = string(spec)
	}
	return res, errors.Join(runErr, err, j.record(ctx, "copy"))
}

// copyRecord is the part of a copy job's spec a later copy reads.
type copyRecord struct {
	JobID    int64
	Level    int
	DumpDate string
}

// copyBase finds the copy an incremental is based on and its level.
func copyBase(ctx context.Context, cat catalog.Catalog, src, dst string, s CopySpec) (copyRecord, int, error) {
	if s.Incremental && s.Level != 0 {
		return copyRecord{}, 0, errors.New("dma: a copy takes a level or incremental, not both")
	}
	if !s.Incremental && s.Level == 0 {
		return copyRecord{}, 0, nil
	}
	jobs, err := cat.Jobs(ctx, false)
	if err != nil {
		return copyRecord{}, 0, fmt.Errorf("dma: catalog: %w", err)
	}
	for i := len(jobs) - 1; i >= 0; i-- {
		j := jobs[i]
		if j.Kind != copyKind || !j.Completed() {
			continue
		}
		var r CopyResult
		if json.Unmarshal([]byte(j.Spec), &r) != nil || r.Src != src || r.Dst != dst || r.DumpDate == "" {
			continue
		}
		if s.Incremental {
			return copyRecord{JobID: j.ID, Level: r.Level, DumpDate: r.DumpDate}, r.Level + 1, nil
		}
		if r.Level < s.Level {
			return copyRecord{JobID: j.ID, Level: r.Level, DumpDate: r.DumpDate}, s.Level, nil
		}
	}
	if s.Incremental {
		return copyRecord{}, 0, nil // nothing to follow: a full copy
	}
	return copyRecord{}, 0, fmt.Errorf("dma: no copy of %s to %s below level %d to base level %d on (ferry jobs lists them)", src, dst, s.Level, s.Level)
}

// runCopy connects the two data services and runs backup into recover.
func runCopy(ctx context.Context, s CopySpec, res *CopyResult, sp, dp *posts) (err error) {
	sc, err := s.Src.Dial(ctx, sp.post)
	if err != nil {
		return err
	}
	defer sc.Close()
	dc, err := s.Dst.Dial(ctx, dp.post)
	if err != nil {
		return err
	}
	defer dc.Close()
	started := false
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err != nil && started {
			sc.DataAbort(cctx)
			dc.DataAbort(cctx)
		}
		sc.DataStop(cctx)
		dc.DataStop(cctx)
	}()
	srcEnv := []wire.PVal{
		{Name: "FILESYSTEM", Value: s.SrcPath},
		{Name: "TYPE", Value: "tar"},
		{Name: "HIST", Value: "n"},
		{Name: "LEVEL", Value: strconv.Itoa(min(res.Level, maxAgentLevel))},
	}
	if res.BaseToken != "" {
		srcEnv = append(srcEnv, wire.PVal{Name: "BASE_DATE", Value: res.BaseToken})
	}
	if len(s.Exclude) > 0 {
		srcEnv = append(srcEnv, wire.PVal{Name: "EXCLUDE", Value: strings.Join(s.Exclude, ",")})
	}
	dstEnv := []wire.PVal{{Name: "PREFIX", Value: s.DstPath}, {Name: "FILESYSTEM", Value: s.DstPath}}
	if s.Overwrite || res.Level > 0 {
		dstEnv = append(dstEnv, wire.PVal{Name: "OVERWRITE", Value: "y"})
	}
	nlist := []wire.Name{{OriginalPath: "/", DestinationDir: s.DstPath, FhInfo: wire.LengthInfinity, Node: wire.LengthInfinity}}
	startRecover := func() error {
		if err := dc.DataStartRecover(ctx, "tar", dstEnv, nlist); err != nil {
			return fmt.Errorf("dma: DATA_START_RECOVER into %s on %s: %w", s.DstPath, s.Dst.Name, err)
		}
		return nil
	}
	startBackup := func() error {
		if err := sc.DataStartBackup(ctx, "tar", srcEnv); err != nil {
			return fmt.Errorf("dma: DATA_START_BACKUP of %s on %s: %w", s.SrcPath, s.Src.Name, err)
		}
		return nil
	}
	listener, dialer, first, second := dc, sc, startRecover, startBackup
	if s.ListenSrc {
		listener, dialer, first, second = sc, dc, startBackup, startRecover
	}
	a, err := listener.DataListen(ctx, wire.AddrTCP)
	if err != nil {
		return fmt.Errorf("dma: DATA_LISTEN: %w", err)
	}
	if err := first(); err != nil {
		return err
	}
	started = true
	if err := dialer.DataConnect(ctx, a); err != nil {
		return fmt.Errorf("dma: DATA_CONNECT between the agents: %w", err)
	}
	if err := second(); err != nil {
		return err
	}
	if err := waitCopy(ctx, s, sc, dc, sp, dp); err != nil {
		return err
	}
	env, err := sc.DataGetEnv(ctx)
	if err != nil {
		return fmt.Errorf("dma: DATA_GET_ENV: %w", err)
	}
	for _, p := range env {
		if p.Name == "DUMP_DATE" {
			res.DumpDate = p.Value
		}
	}
	if st, err := sc.DataGetState(ctx); err == nil {
		res.Bytes = int64(st.BytesProcessed)
	}
	return nil
}

// waitCopy waits for both data services to halt, sending progress.
func waitCopy(ctx context.Context, s CopySpec, sc, dc *client.Conn, sp, dp *posts) error {
	m := newMeter(s.Progress, "copy")
	m.send(0, 0, 0)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	srcDone, dstDone := false, false
	for !srcDone || !dstDone {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sc.Done():
			return fmt.Errorf("dma: source agent %s closed the connection: %v", s.Src.Name, sc.Err())
		case <-dc.Done():
			return fmt.Errorf("dma: destination agent %s closed the connection: %v", s.Dst.Name, dc.Err())
		case <-sp.reads: // nothing to forward: the stream comes from the source
		case <-dp.reads:
		case why := <-sp.data:
			if why != wire.DataHaltSuccessful {
				return haltError("backup", s.Src.Name, why, sp)
			}
			srcDone = true
		case why := <-dp.data:
			if why != wire.DataHaltSuccessful {
				return haltError("recover", s.Dst.Name, why, dp)
			}
			if l := dp.lastError(); l != "" {
				return fmt.Errorf("dma: recover on %s: %s", s.Dst.Name, l)
			}
			dstDone = true
		case <-tick.C:
			if st, err := sc.DataGetState(ctx); err == nil && !srcDone {
				m.send(int64(st.BytesProcessed), 0, int64(st.EstBytesRemain))
			}
		}
	}
	return nil
}

func haltError(what, agent string, why wire.DataHaltReason, p *posts) error {
	msg := fmt.Sprintf("dma: %s on %s halted (%s)", what, agent, why)
	if l := p.lastError(); l != "" {
		msg += ": " + l
	}
	return errors.New(msg)
}
