package tarengine

import (
	"errors"

	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
)

var _ data.Checker = (*Engine)(nil)

// Check refuses a backup of, or a recover into, a path outside the
// exports before the operation starts: the DMA's DATA_START_* then fails
// with the reason, where a job that started would halt INTERNAL_ERROR.
// Other environment errors are left to the job, which says why it halts.
func (e *Engine) Check(op wire.DataOperation, env []wire.PVal, nlist []wire.Name) error {
	var err error
	switch op {
	case wire.DataOpBackup:
		var be *backupEnv
		if be, err = parseBackupEnv(env, e.cfg.Snapshot); err == nil {
			_, err = resolveExported(be.filesystem, e.cfg.Exports)
		}
	case wire.DataOpRecover:
		var re *recoverEnv
		if re, err = parseRecoverEnv(env); err == nil {
			_, _, err = e.targets(nlist, re)
		}
	}
	if errors.Is(err, ErrNotExported) {
		return err
	}
	return nil
}
