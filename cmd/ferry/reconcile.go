package main

import (
	"context"
	"fmt"
	"os"

	"ferry/internal/dma"
)

// reconcileJobs ends the jobs whose process is gone (dma.Reconcile) each
// time a command opens the catalog, so a killed `ferry backup` never
// leaves its backup running: its cartridge says whether the image is
// complete. Problems are reported and the command goes on.
func reconcileJobs(ctx context.Context, m *dma.Manager) {
	done, err := m.ReconcileGone(ctx)
	for _, j := range done {
		fmt.Fprintf(os.Stderr, "ferry: job %d (%s) was left running by a process that is gone: now %s\n", j.ID, j.Kind, stateText(j.State))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferry: reconciling jobs whose process is gone: %v\n", err)
	}
}
