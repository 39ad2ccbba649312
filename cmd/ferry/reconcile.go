package main

import (
	"context"
	"fmt"
	"os"

	"ferry/internal/catalog"
	"ferry/internal/dma"
)

// reconcileJobs ends the jobs whose process is gone (dma.Reconcile) each
// time a command opens the catalog, so a killed `ferry backup` never
// leaves its backup running: its cartridge says whether the image is
// complete. Problems are reported and the command goes on.
func reconcileJobs(ctx context.Context, cat catalog.Catalog, state string) {
	done, err := dma.Reconcile(ctx, cat, func(ctx context.Context, j catalog.Job, b catalog.Backup) error {
		return checkTape(ctx, cat, state, j)
	})
	for _, j := range done {
		fmt.Fprintf(os.Stderr, "ferry: job %d (%s) was left running by a process that is gone: now %s\n", j.ID, j.Kind, stateText(j.State))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferry: reconciling jobs whose process is gone: %v\n", err)
	}
}

// checkTape rebuilds the catalog's record of the cartridge in the drive a
// backup job was writing, through the agent holding it.
func checkTape(ctx context.Context, cat catalog.Catalog, state string, j catalog.Job) error {
	spec, err := dma.DecodeBackupJobSpec(j.Spec)
	if err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	name := spec.TapeAgent
	if name == "" {
		name = spec.Agent
	}
	rs := dma.RebuildSpec{Drive: spec.Drive}
	if name == localAgentName {
		la, err := startLocalAgent(state, nil)
		if err != nil {
			return err
		}
		defer la.stop()
		rs.Agent = la.agent
	} else {
		a, err := resolveAgent(ctx, cat, name, "")
		if err != nil {
			return err
		}
		rs.Agent = a
	}
	_, err = dma.Rebuild(ctx, cat, rs)
	return err
}
