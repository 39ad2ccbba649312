package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"ferry/internal/dma"
)

// policyWaitDrive is how long a scheduled run waits for a drive another
// job (an API or NDMP client's) holds before it fails and is retried.
const policyWaitDrive = time.Hour

// startScheduler runs the catalog's policies in ferry serve (over a
// catalog of its own) until the returned stop is called; local sources
// must lie under the node's exports. The scheduler is returned for the
// API to queue runs on.
//
// An agent whose cartridges another data manager wrote has written
// cartridges and no catalog of its own: it serves without policies, and
// says so in its log, rather than refuse to start.
func startScheduler(ctx context.Context, g *globalOptions, state string, exports []string, logger *slog.Logger) (*dma.Scheduler, func(), error) {
	cat, err := openCatalog(ctx, g, state)
	if errors.Is(err, dma.ErrCatalogLost) {
		logger.Warn("policies are not run: " + err.Error())
		return nil, func() {}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	m := dma.NewManager(cat, managerConfig(g, state))
	s := m.NewScheduler(dma.SchedulerConfig{Changer: dma.ChangerOptions{WaitDrive: policyWaitDrive},
		Confine: dma.ConfineTo(exports, state), Logger: logger.With("part", "policies")})
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(sctx)
	}()
	return s, func() {
		cancel()
		<-done // running jobs record how they ended
		cat.Close()
	}, nil
}
