package dma

import (
	"context"
	"encoding/json"
	"fmt"
)

// imageMover writes a serverless image's tape files: by EXTENDED COPY
// lists on the disk's copy manager, or, where no copy manager can, through
// the data manager itself. Both write the same records.
type imageMover interface {
	// records writes each record as a tape file of its own.
	records(ctx context.Context, list int, recs [][]byte) error
	// lead starts the image file with recs (its extent map).
	lead(ctx context.Context, list int, recs [][]byte) error
	// data appends a list's pieces to the image file.
	data(ctx context.Context, list int, l copyList) error
	// trailer ends the image file and writes the trailer's.
	trailer(ctx context.Context, list int, rec []byte) error
}

// mover picks how the image moves: the copy manager of the disk's target
// when the tape is on it too; else the data manager (logged, and said in
// the job's JSON).
func (r *serverlessBackup) mover() imageMover {
	if r.res.DataPath == PathDataManager {
		r.log("warning", fmt.Sprintf("the tape %s is on another target than the disk and ferry's copy manager reaches no foreign target: the data moves through the data manager", r.res.Tape))
		return &dmMover{r: r}
	}
	return &fallbackMover{r: r, xc: &xcopyMover{r: r}}
}

// nextList returns a list identifier for the next list.
func (r *serverlessBackup) nextList() *xlist {
	r.listSeq = r.listSeq%250 + 1
	return &xlist{id: r.listSeq}
}

// xcopyMover sends lists to the disk's copy manager (the disk's own LU,
// which keeps answering COPY STATUS while the copy runs).
type xcopyMover struct{ r *serverlessBackup }

func (m *xcopyMover) list() (*xlist, uint16, uint16) {
	l := m.r.nextList()
	d := l.unit(m.r.diskID, m.r.bs)
	t := l.unit(m.r.tapeID, 0)
	return l, d, t
}

func (m *xcopyMover) run(ctx context.Context, n int, l *xlist) error {
	return m.r.disk.runList(ctx, m.r.diskLUN, n, l, &m.r.done)
}

func (m *xcopyMover) records(ctx context.Context, n int, recs [][]byte) error {
	l, _, t := m.list()
	for _, rec := range recs {
		l.record(t, rec)
		l.filemarks(t, 1)
	}
	return m.run(ctx, n, l)
}

// leadBudget bounds the inline bytes of one list of lead records, within
// what a copy manager takes (ferry's: 1 MiB, xcopy.MaxInline).
const leadBudget = 960 << 10

func (m *xcopyMover) lead(ctx context.Context, n int, recs [][]byte) error {
	for len(recs) > 0 {
		l, _, t := m.list()
		for size := 0; len(recs) > 0 && size+len(recs[0]) <= leadBudget; recs = recs[1:] {
			l.record(t, recs[0])
			size += len(recs[0])
		}
		if err := m.run(ctx, n, l); err != nil {
			return err
		}
	}
	return nil
}

func (m *xcopyMover) data(ctx context.Context, n int, cl copyList) error {
	l, d, t := m.list()
	for _, p := range cl.pieces {
		l.blockStream(0x00, d, t, p)
	}
	return m.run(ctx, n, l)
}

func (m *xcopyMover) trailer(ctx context.Context, n int, rec []byte) error {
	l, _, t := m.list()
	l.filemarks(t, 1)
	l.record(t, rec)
	l.filemarks(t, 1)
	return m.run(ctx, n, l)
}

// fallbackMover uses the copy manager and, when the target does not take
// EXTENDED COPY at all, moves the data itself from then on.
type fallbackMover struct {
	r  *serverlessBackup
	xc *xcopyMover
	dm *dmMover
}

func (m *fallbackMover) use(err error) (bool, error) {
	if m.dm != nil {
		return true, nil
	}
	if err == nil || !copyUnsupported(err) {
		return false, err
	}
	m.r.res.DataPath = PathDataManager
	m.r.log("warning", fmt.Sprintf("the copy manager of %s does not take EXTENDED COPY: the data moves through the data manager", m.r.res.Source))
	m.dm = &dmMover{r: m.r}
	return true, nil
}

func (m *fallbackMover) records(ctx context.Context, n int, recs [][]byte) error {
	if m.dm == nil {
		if ok, err := m.use(m.xc.records(ctx, n, recs)); !ok {
			return err
		}
	}
	return m.dm.records(ctx, n, recs)
}

func (m *fallbackMover) lead(ctx context.Context, n int, recs [][]byte) error {
	if m.dm != nil {
		return m.dm.lead(ctx, n, recs)
	}
	return m.xc.lead(ctx, n, recs)
}

func (m *fallbackMover) data(ctx context.Context, n int, l copyList) error {
	if m.dm != nil {
		return m.dm.data(ctx, n, l)
	}
	return m.xc.data(ctx, n, l)
}

func (m *fallbackMover) trailer(ctx context.Context, n int, rec []byte) error {
	if m.dm != nil {
		return m.dm.trailer(ctx, n, rec)
	}
	return m.xc.trailer(ctx, n, rec)
}

// dmMover moves the image through the data manager: READ from the disk,
// WRITE to the tape, the same records as a copy manager writes.
type dmMover struct{ r *serverlessBackup }

func (m *dmMover) records(ctx context.Context, _ int, recs [][]byte) error {
	for _, rec := range recs {
		if err := m.r.tape.writeRecord(ctx, m.r.tapeLUN, rec); err != nil {
			return fmt.Errorf("dma: write to %s: %w", m.r.res.Tape, err)
		}
		if err := m.r.tape.writeFilemarks(ctx, m.r.tapeLUN, 1); err != nil {
			return fmt.Errorf("dma: write to %s: %w", m.r.res.Tape, err)
		}
	}
	return nil
}

func (m *dmMover) lead(ctx context.Context, _ int, recs [][]byte) error {
	for _, rec := range recs {
		if err := m.r.tape.writeRecord(ctx, m.r.tapeLUN, rec); err != nil {
			return fmt.Errorf("dma: write to %s: %w", m.r.res.Tape, err)
		}
	}
	return nil
}

func (m *dmMover) data(ctx context.Context, _ int, l copyList) error {
	r := m.r
	for _, p := range l.pieces {
		per := p.record / r.bs
		for lba := p.lba; lba < p.lba+uint64(p.blocks); lba += uint64(per) {
			buf, err := r.disk.readBlocks(ctx, r.diskLUN, lba, per, r.bs)
			if err != nil {
				return err
			}
			if err := r.tape.writeRecord(ctx, r.tapeLUN, buf); err != nil {
				return fmt.Errorf("dma: write to %s: %w", r.res.Tape, err)
			}
			r.res.DataManagerBytes += 2 * int64(len(buf))
			r.done.Add(int64(len(buf)))
		}
	}
	return nil
}

func (m *dmMover) trailer(ctx context.Context, n int, rec []byte) error {
	if err := m.r.tape.writeFilemarks(ctx, m.r.tapeLUN, 1); err != nil {
		return fmt.Errorf("dma: write to %s: %w", m.r.res.Tape, err)
	}
	return m.records(ctx, n, [][]byte{rec})
}

func jsonSpec(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
