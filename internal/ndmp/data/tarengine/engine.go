// Package tarengine is the NDMP data service's "tar" backup method: it backs
// up a directory tree as a POSIX pax stream (internal/format) that GNU tar
// extracts, with file history, direct access recovery and unlimited
// incrementals, and recovers such streams through internal/restore.
//
// docs/tar-engine.md describes the environment variables, the backup
// pipeline, file history, incremental tokens and the recovery modes.
package tarengine

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
)

// Config configures an Engine.
type Config struct {
	// Exports are the absolute directories a backup may read and a recover
	// may write (the server's Config.Exports).
	Exports []string
	// StateDir keeps the LEVEL dump dates (tar-dumpdates.json); "" disables
	// LEVEL incrementals without BASE_DATE.
	StateDir string
	// Protect names files a backup never stores besides StateDir (which
	// never is either): a catalog kept elsewhere, its journal.
	Protect []string
	// Snapshot makes SNAPSHOT=y the default.
	Snapshot bool
	// Logger receives the engine's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// Engine is the "tar" backup method. It is safe for concurrent jobs.
type Engine struct {
	cfg    Config
	dates  *dumpdates
	missed *missedFiles // nil without a StateDir
	log    *slog.Logger
	sets   restoreSets // names written by chain restores in progress
}

var _ data.Engine = (*Engine)(nil)

// New returns an Engine for cfg.
func New(cfg Config) *Engine {
	e := &Engine{cfg: cfg, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if cfg.StateDir != "" {
		e.dates = &dumpdates{path: filepath.Join(cfg.StateDir, "tar-dumpdates.json")}
		e.missed = &missedFiles{dir: filepath.Join(cfg.StateDir, "tar-missed")}
	}
	return e
}

// ButypeInfo describes the method for CONFIG_GET_BUTYPE_INFO.
func (e *Engine) ButypeInfo(v wire.Version) wire.ButypeInfo {
	attrs := wire.ButypeBackupFilelist | wire.ButypeRecoverFilelist |
		wire.ButypeBackupDirect | wire.ButypeRecoverDirect |
		wire.ButypeBackupIncremental | wire.ButypeRecoverIncremental |
		wire.ButypeBackupUTF8 | wire.ButypeRecoverUTF8
	if v >= wire.V4 {
		attrs |= wire.ButypeBackupFhFile | wire.ButypeBackupFhDir |
			wire.ButypeRecoverFilehist | wire.ButypeRecoverFhFile | wire.ButypeRecoverFhDir
	} else {
		attrs |= wire.ButypeV3BackupFileHistory | wire.ButypeV3RecoverFileHistory
	}
	return wire.ButypeInfo{
		ButypeName: "tar",
		Attrs:      attrs,
		DefaultEnv: []wire.PVal{
			{Name: "TYPE", Value: "tar"},
			{Name: "HIST", Value: "y"},
			{Name: "LEVEL", Value: "0"},
			{Name: "UPDATE", Value: "y"},
			{Name: "RECURSIVE", Value: "y"},
			{Name: "DIRECT", Value: "y"},
		},
	}
}

// logger posts LOG_MESSAGE and LOG_FILE for a job.
type logger struct {
	job *data.Job
	log *slog.Logger
}

func (l logger) message(t wire.LogType, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Debug("tar", "type", t, "msg", msg)
	l.job.Post(wire.CodeLogMessage, &wire.LogMessage{LogType: t, Entry: msg})
}

// file posts LOG_FILE for a path with its recovery status.
func (l logger) file(name string, err error) {
	m := &wire.LogFile{Name: name, RecoveryStatus: recoveryStatus(err), Error: v3Error(err)}
	l.job.Post(wire.CodeLogFile, m)
}

// illegal wraps an environment error so the job halts with ILLEGAL_ARGS
// after saying why.
func (l logger) illegal(err error) error {
	l.message(wire.LogError, "%v", err)
	return fmt.Errorf("%w: %w", wire.ErrIllegalArgs, err)
}

func recoveryStatus(err error) wire.RecoveryStatus {
	switch {
	case err == nil:
		return wire.RecoverySuccessful
	case errors.Is(err, os.ErrPermission):
		return wire.RecoveryFailedPermission
	case errors.Is(err, errNotInStream), errors.Is(err, os.ErrNotExist):
		return wire.RecoveryFailedNotFound
	case errors.Is(err, os.ErrExist):
		return wire.RecoveryFailedFilePathExists
	}
	return wire.RecoveryFailedUndefinedError
}

func v3Error(err error) wire.Error {
	switch {
	case err == nil:
		return wire.ErrNone
	case errors.Is(err, os.ErrPermission):
		return wire.ErrPermission
	case errors.Is(err, errNotInStream), errors.Is(err, os.ErrNotExist):
		return wire.ErrFileNotFound
	}
	return wire.ErrUndefined
}
