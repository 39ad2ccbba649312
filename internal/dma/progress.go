package dma

import (
	"context"
	"time"
)

// Progress is a job's progress event.
type Progress struct {
	Phase   string        `json:"phase"` // "position", "backup", "restore", "done"
	Bytes   int64         `json:"bytes"` // stream bytes so far
	Files   int64         `json:"files"` // files catalogued or restored so far
	Total   int64         `json:"total"` // estimated stream bytes (0: unknown)
	Rate    float64       `json:"rate"`  // bytes per second since the phase began
	ETA     time.Duration `json:"eta"`   // 0: unknown
	Elapsed time.Duration `json:"elapsed"`
}

// meter turns byte counts into Progress events on a channel that is never
// waited for: a slow reader misses events rather than slowing the job.
type meter struct {
	ch    chan<- Progress
	phase string
	start time.Time
}

func newMeter(ch chan<- Progress, phase string) *meter {
	return &meter{ch: ch, phase: phase, start: time.Now()}
}

// send emits one event for bytes, files and an estimate of what remains.
func (m *meter) send(bytes, files, remain int64) {
	if m == nil || m.ch == nil {
		return
	}
	p := Progress{Phase: m.phase, Bytes: bytes, Files: files, Elapsed: time.Since(m.start)}
	if s := p.Elapsed.Seconds(); s > 0 {
		p.Rate = float64(bytes) / s
	}
	if remain > 0 {
		p.Total = bytes + remain
		if p.Rate > 0 {
			p.ETA = time.Duration(float64(remain) / p.Rate * float64(time.Second))
		}
	}
	select {
	case m.ch <- p:
	default:
	}
}

// every calls fn every d from another goroutine until the returned stop
// is called (or ctx ends); stop waits for a call in progress.
func every(ctx context.Context, d time.Duration, fn func()) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(quit); <-done }
}
