package dma

import (
	"sync"

	"ferry/internal/catalog/fh"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// posts gathers what an agent posts during a job: halts and pauses on
// channels, file history into a Recorder, log messages kept for the job log.
type posts struct {
	rec    *fh.Recorder // nil: history dropped
	data   chan wire.DataHaltReason
	mover  chan wire.MoverHaltReason
	paused chan wire.NotifyMoverPaused
	// reads are the data service's NOTIFY_DATA_READ requests, which a DMA
	// forwards to the mover as MOVER_READ when the two are not linked.
	reads chan wire.NotifyDataRead
	// sums takes ferry's data checksums (nil: dropped).
	sums *checksumWriter

	mu     sync.Mutex
	recErr error
	logs   []logLine
	// failed names the files a recover's LOG_FILE reported not recovered
	// (up to maxNamed; nFailed counts them all), since the last takeFailed.
	failed  []string
	nFailed int
}

type logLine struct {
	level, msg string
}

func newPosts(rec *fh.Recorder) *posts {
	return &posts{
		rec:    rec,
		data:   make(chan wire.DataHaltReason, 1),
		mover:  make(chan wire.MoverHaltReason, 1),
		paused: make(chan wire.NotifyMoverPaused, 4),
		reads:  make(chan wire.NotifyDataRead, 64),
	}
}

// post is the client's post handler (one goroutine).
func (p *posts) post(m client.Post) {
	switch b := m.Body.(type) {
	case *wire.NotifyDataHalted:
		offer(p.data, b.Reason)
	case *wire.NotifyMoverHalted:
		offer(p.mover, b.Reason)
	case *wire.NotifyMoverPaused:
		offer(p.paused, *b)
	case *wire.NotifyDataRead:
		p.reads <- *b // every request counts: wait rather than drop
	case *wire.FerryFhAddChecksums:
		if p.sums != nil {
			p.sums.add(b.Checksums)
		}
	case *wire.LogMessage:
		p.log(logLevel(b.LogType), b.Entry)
	case *wire.LogFile:
		if b.Error != wire.ErrNone || b.RecoveryStatus != 0 {
			p.log("error", "file "+b.Name+" not recovered")
			p.fileFailed(b.Name)
		}
	default:
		if p.rec == nil || m.Body == nil {
			return
		}
		if err := p.rec.Post(m.Body); err != nil {
			p.mu.Lock()
			if p.recErr == nil {
				p.recErr = err
			}
			p.mu.Unlock()
		}
	}
}

func (p *posts) log(level, msg string) {
	p.mu.Lock()
	p.logs = append(p.logs, logLine{level, msg})
	p.mu.Unlock()
}

func (p *posts) fileFailed(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nFailed++
	if len(p.failed) < maxNamed {
		p.failed = append(p.failed, name)
	}
}

// takeFailed returns the files reported not recovered and forgets them.
func (p *posts) takeFailed() (names []string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	names, n = p.failed, p.nFailed
	p.failed, p.nFailed = nil, 0
	return names, n
}

// mark is where the log lines of what starts now begin.
func (p *posts) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.logs)
}

// errorsSince returns the error lines logged since mark m.
func (p *posts) errorsSince(m int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.logs[min(m, len(p.logs)):] {
		if l.level == "error" {
			out = append(out, l.msg)
		}
	}
	return out
}

// lastError returns the agent's last error message ("" if none).
func (p *posts) lastError() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.logs) - 1; i >= 0; i-- {
		if p.logs[i].level == "error" {
			return p.logs[i].msg
		}
	}
	return ""
}

func (p *posts) lines() []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]logLine(nil), p.logs...)
}

// addLines appends lines another connection's posts collected.
func (p *posts) addLines(ls []logLine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logs = append(p.logs, ls...)
}

func (p *posts) historyErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recErr
}

func logLevel(t wire.LogType) string {
	switch t {
	case wire.LogError:
		return "error"
	case wire.LogWarning:
		return "warning"
	case wire.LogDebug:
		return "debug"
	}
	return "info"
}

// offer sends v unless the channel is full (a repeated post).
func offer[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}
