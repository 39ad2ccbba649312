package dma

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ferry/internal/catalog"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/restore"
)

// FilesNotRecoveredError reports the files an agent's recover could not
// restore (its LOG_FILE posts with a failed status). It wraps ErrDamaged
// when the agent said some failed their backup checksum.
type FilesNotRecoveredError struct {
	BackupID int64
	Agent    string
	Count    int      // files reported
	Names    []string // up to maxNamed
	Damaged  bool     // some differ from what was backed up
}

func (e *FilesNotRecoveredError) Error() string {
	s := fmt.Sprintf("dma: backup %d: %d files not restored on %s: %s", e.BackupID, e.Count, e.Agent, strings.Join(e.Names, ", "))
	if more := e.Count - len(e.Names); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	if e.Damaged {
		s += " (" + ErrDamaged.Error() + ")"
	}
	return s
}

// Unwrap lets errors.Is find ErrDamaged.
func (e *FilesNotRecoveredError) Unwrap() error {
	if e.Damaged {
		return ErrDamaged
	}
	return nil
}

// agentShortError is an agent's report that an image ended before the
// entries the catalog lists (DATA_GET_ENV after the recover).
type agentShortError struct {
	delivered int64
	end       int64 // stream offset where entries stopped
}

func (e *agentShortError) Error() string {
	return fmt.Sprintf("the image ended after %d entries, at offset %d", e.delivered, e.end)
}

// agentChecks gives ferry's agent, before a recover of b starts, the
// catalog's checksums of b's files (FERRY_RECOVER_ADD_CHECKSUMS) and the
// variables of the checks: the entry count of a whole restore, and
// whether damaged files are kept. Nothing when the catalog holds no
// checksums for b (an agent without ferry's extension made it).
func agentChecks(ctx context.Context, cat catalog.Catalog, dc *client.Conn, b catalog.Backup, whole, keepDamaged bool) ([]wire.PVal, error) {
	sums, err := cat.Checksums(ctx, b.ID)
	if err != nil {
		return nil, fmt.Errorf("dma: catalog: backup %d checksums: %w", b.ID, err)
	}
	if len(sums) == 0 {
		return nil, nil
	}
	pairs := make([]wire.FhChecksum, 0, len(sums))
	for off, crc := range sums {
		pairs = append(pairs, wire.FhChecksum{FhInfo: off, CRC32C: crc})
	}
	clear(sums)
	slices.SortFunc(pairs, byFhInfo)
	if err := dc.FerryRecoverAddChecksums(ctx, pairs); err != nil {
		return nil, fmt.Errorf("FERRY_RECOVER_ADD_CHECKSUMS: %w", err)
	}
	var env []wire.PVal
	if whole {
		env = append(env, wire.PVal{Name: "FERRY_ENTRIES", Value: strconv.FormatInt(b.Files, 10)})
	}
	if keepDamaged {
		env = append(env, wire.PVal{Name: "FERRY_KEEP_DAMAGED", Value: "y"})
	}
	return env, nil
}

func byFhInfo(a, b wire.FhChecksum) int {
	switch {
	case a.FhInfo < b.FhInfo:
		return -1
	case a.FhInfo > b.FhInfo:
		return 1
	}
	return 0
}

// recoverFailures turns what the agent reported during one recover into
// its error: the files it did not restore (by name), a short image (from
// DATA_GET_ENV), or its last error message.
func recoverFailures(ctx context.Context, dc *client.Conn, p *posts, mark int, why wire.DataHaltReason, b catalog.Backup) error {
	var errs []error
	if names, n := p.takeFailed(); n > 0 {
		e := &FilesNotRecoveredError{BackupID: b.ID, Count: n, Names: names}
		for _, m := range p.errorsSince(mark) {
			if strings.Contains(m, restore.ErrDamaged.Error()) {
				e.Damaged = true
				break
			}
		}
		errs = append(errs, e)
	}
	if s := agentShort(ctx, dc); s != nil {
		errs = append(errs, s)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	msgs := p.errorsSince(mark)
	if why != wire.DataHaltSuccessful {
		msg := fmt.Sprintf("data service halted (%v)", why)
		if len(msgs) > 0 {
			msg += ": " + msgs[len(msgs)-1]
		}
		return errors.New(msg)
	}
	if len(msgs) > 0 {
		return errors.New(msgs[len(msgs)-1])
	}
	return nil
}

// agentShort reads ferry's agent's report of a short image, nil if none.
func agentShort(ctx context.Context, dc *client.Conn) *agentShortError {
	env, err := dc.DataGetEnv(ctx)
	if err != nil {
		return nil
	}
	var s agentShortError
	var got, end bool
	for _, v := range env {
		switch v.Name {
		case "FERRY_ENTRIES_DELIVERED":
			s.delivered, err = strconv.ParseInt(v.Value, 10, 64)
			got = err == nil
		case "FERRY_STREAM_END":
			s.end, err = strconv.ParseInt(v.Value, 10, 64)
			end = err == nil
		}
	}
	if !got || !end {
		return nil
	}
	return &s
}

// shortOnAgent names the catalogued entries of b at or after the offset
// where the agent's stream stopped.
func shortOnAgent(ctx context.Context, cat catalog.Catalog, b catalog.Backup, s *agentShortError) error {
	e := &ShortImageError{BackupID: b.ID, Catalog: b.Files, Delivered: s.delivered}
	files, err := catalogued(ctx, cat, b)
	if err != nil {
		return errors.Join(e, err)
	}
	for p, f := range files {
		if int64(f.FhInfo) >= s.end {
			e.Missing = append(e.Missing, p)
		}
	}
	slices.Sort(e.Missing)
	if len(e.Missing) > maxNamed {
		e.Missing = e.Missing[:maxNamed]
	}
	return e
}
