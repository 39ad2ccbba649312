package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Defaults of IngestOptions.
const (
	DefaultBatch   = 4096
	DefaultQueue   = 64
	DefaultTxFiles = 200000
)

// IngestOptions tune an Ingester.
type IngestOptions struct {
	// Batch is the number of entries handed to the writer at a time
	// (0: DefaultBatch).
	Batch int
	// Queue is the number of batches that may wait for the writer (0:
	// DefaultQueue). Add blocks when the queue is full.
	Queue int
	// TxFiles caps the entries of one transaction (0: DefaultTxFiles);
	// the writer commits earlier when the queue runs empty.
	TxFiles int
}

func (o IngestOptions) withDefaults() IngestOptions {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.TxFiles <= 0 {
		o.TxFiles = DefaultTxFiles
	}
	return o
}

// Ingester writes the file history of one backup. Add fills a batch in
// the caller's goroutine; full batches go through a bounded queue to one
// writer goroutine that stores as many as are waiting (up to TxFiles) in
// one transaction. The queue holds Batch*Queue entries, so a burst of
// file history never waits for the database; a database slower than the
// backup for longer than that makes Add block (back-pressure).
//
// An Ingester is used by one goroutine; Close must be called.
type Ingester struct {
	ctx      context.Context
	cancel   context.CancelFunc
	backupID int64
	o        IngestOptions
	batch    []File
	queue    chan []File
	free     sync.Pool
	done     chan struct{}
	mu       sync.Mutex
	err      error
	count    int64
	closed   bool
}

// Ingest implements Catalog.
func (c *sqlCatalog) Ingest(ctx context.Context, backupID int64, o IngestOptions) *Ingester {
	o = o.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	in := &Ingester{
		ctx: ctx, cancel: cancel, backupID: backupID, o: o,
		queue: make(chan []File, o.Queue),
		done:  make(chan struct{}),
	}
	in.batch = in.newBatch()
	sink, err := c.be.newSink(ctx)
	if err != nil {
		in.fail(fmt.Errorf("catalog: file history of backup %d: %w", backupID, err))
		close(in.done)
		return in
	}
	go in.run(sink)
	return in
}

func (in *Ingester) newBatch() []File {
	if b, ok := in.free.Get().(*[]File); ok {
		return (*b)[:0]
	}
	return make([]File, 0, in.o.Batch)
}

// Add queues one entry. It returns the writer's error, if it failed, or
// the context's once it is done.
func (in *Ingester) Add(f File) error {
	if in.closed {
		return ErrClosed
	}
	in.batch = append(in.batch, f)
	if len(in.batch) < in.o.Batch {
		return nil
	}
	return in.flush()
}

// flush hands the current batch to the writer.
func (in *Ingester) flush() error {
	if err := in.Err(); err != nil {
		return err
	}
	if len(in.batch) == 0 {
		return nil
	}
	select {
	case in.queue <- in.batch:
		in.batch = in.newBatch()
		return nil
	case <-in.done:
		return in.Err()
	case <-in.ctx.Done():
		return in.ctx.Err()
	}
}

// Err returns the writer's first error.
func (in *Ingester) Err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

func (in *Ingester) fail(err error) {
	in.mu.Lock()
	if in.err == nil {
		in.err = err
	}
	in.mu.Unlock()
}

// Count returns the entries stored so far.
func (in *Ingester) Count() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.count
}

// Close writes what is queued, stops the writer and returns its first
// error. Entries added after a failure are dropped.
func (in *Ingester) Close() error {
	if in.closed {
		return in.Err()
	}
	in.closed = true
	ferr := in.flush()
	close(in.queue)
	<-in.done
	in.cancel()
	return errors.Join(in.Err(), ignoreAfter(ferr, in.Err()))
}

// ignoreAfter drops err when it only repeats the writer's failure.
func ignoreAfter(err, writer error) error {
	if err == nil || errors.Is(err, writer) {
		return nil
	}
	return err
}

// run is the writer: it gathers queued batches into transactions.
func (in *Ingester) run(sink fileSink) {
	defer close(in.done)
	defer sink.close()
	var tx []File
	for b := range in.queue {
		tx = append(tx[:0], b...)
		in.recycle(b)
		tx = in.gather(tx)
		if in.Err() != nil {
			continue // drain the queue so Add and Close do not block
		}
		if err := sink.write(in.ctx, in.backupID, tx); err != nil {
			in.fail(fmt.Errorf("catalog: file history of backup %d: %w", in.backupID, err))
			continue
		}
		in.mu.Lock()
		in.count += int64(len(tx))
		in.mu.Unlock()
	}
}

// gather appends the batches already waiting, up to TxFiles entries.
func (in *Ingester) gather(tx []File) []File {
	for len(tx) < in.o.TxFiles {
		select {
		case b, ok := <-in.queue:
			if !ok {
				return tx
			}
			tx = append(tx, b...)
			in.recycle(b)
		default:
			return tx
		}
	}
	return tx
}

func (in *Ingester) recycle(b []File) {
	clear(b)
	b = b[:0]
	in.free.Put(&b)
}
