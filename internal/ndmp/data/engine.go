package data

import (
	"context"
	"io"
	"sync"
	"time"

	"ferry/internal/ndmp/wire"
)

// Engine is a backup method (an NDMP butype such as "tar"): it produces a
// backup stream from a file system and consumes one to recover files. The data
// service runs one operation at a time in its own goroutine and halts when the
// method returns: SUCCESSFUL for nil, ABORTED when ctx was cancelled by
// DATA_ABORT, CONNECT_ERROR when the data connection failed, INTERNAL_ERROR
// otherwise.
type Engine interface {
	// Backup writes the backup stream described by job to job.Stream.
	Backup(ctx context.Context, job *Job) error
	// Recover reads the stream from job.Recovery and restores job.Nlist (or,
	// for RECOVER_FILEHIST, only posts its file history).
	Recover(ctx context.Context, job *Job) error
}

// Job is one data operation as an Engine sees it.
type Job struct {
	// Version is the session's protocol version (v4 has stricter file
	// history rules and a different LOG_FILE).
	Version   wire.Version
	Operation wire.DataOperation
	Butype    string
	Env       []wire.PVal // as the DMA sent it (plus PATHNAME_SEPARATOR on backup)
	Nlist     []wire.Name // recover only
	// Stream is the data connection a backup writes; nil on recover.
	Stream io.Writer
	// Recovery is the data connection a recover reads; nil on backup.
	Recovery *Recovery
	// Post sends file history and log posts (FH_ADD_*, LOG_MESSAGE,
	// LOG_FILE) to the DMA. It is safe for concurrent use.
	Post func(code wire.Code, body wire.Body)
	// Checksums asks a backup to post its entries' data checksums
	// (FERRY_FH_ADD_CHECKSUMS): the DMA selected ferry's extension.
	Checksums bool
	// RecoverChecksums are the checksums the DMA sent for a recover's
	// files (FERRY_RECOVER_ADD_CHECKSUMS), nil when it sent none: a file
	// whose data differs is not restored.
	RecoverChecksums RecoverChecksums

	svc *Service
}

// SetEnv adds or replaces an environment variable that DATA_GET_ENV returns,
// such as DUMP_DATE after an incremental backup.
func (j *Job) SetEnv(name, value string) { j.svc.env.set(name, value) }

// SetEstimate publishes the method's estimates for DATA_GET_STATE; a zero time
// means unknown.
func (j *Job) SetEstimate(bytesRemain uint64, timeRemain time.Duration) {
	j.svc.estimate(bytesRemain, timeRemain)
}

// Recovery is the data connection of a recover: an io.Reader of the stream and
// the means to ask the tape side for a stretch of it. Over TCP a request is a
// NOTIFY_DATA_READ to the DMA, which forwards it as MOVER_READ; over LOCAL it
// goes straight to the session's mover.
type Recovery struct {
	r     io.Reader
	svc   *Service
	local bool
}

// Read reads the recovery stream.
func (r *Recovery) Read(p []byte) (int, error) { return r.r.Read(p) }

// Request asks for length bytes of the stream starting at offset
// (wire.LengthInfinity: up to the end of the window or tape).
func (r *Recovery) Request(offset, length uint64) error {
	r.svc.readRequested(offset, length)
	if r.local {
		return r.svc.cfg.Link.Read(offset, length)
	}
	r.svc.notify(wire.CodeNotifyDataRead, &wire.NotifyDataRead{Offset: offset, Length: length})
	return nil
}

// env is the operation's environment, shared by the job and GET_ENV.
type env struct {
	mu   sync.Mutex
	vars []wire.PVal
}

func (e *env) reset(vars []wire.PVal) {
	e.mu.Lock()
	e.vars = append([]wire.PVal(nil), vars...)
	e.mu.Unlock()
}

func (e *env) set(name, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.vars {
		if e.vars[i].Name == name {
			e.vars[i].Value = value
			return
		}
	}
	e.vars = append(e.vars, wire.PVal{Name: name, Value: value})
}

func (e *env) get() []wire.PVal {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]wire.PVal(nil), e.vars...)
}
