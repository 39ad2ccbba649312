package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/view"
)

func newCancelCommand(g *globalOptions) *cobra.Command {
	var asJSON, force bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a running job; the agents it drives are left idle",
		Long: `Ask the process running a job (ferry jobs --active lists them) to cancel it.
That process may be another ferry command on this host, or on another host
sharing a PostgreSQL catalog: it notices within a second, stops the agents'
data and mover services, closes the partial image on tape so later backups
append after it, and records the job cancelled. ferry cancel waits for that
(--wait). If the process running the job is gone (killed, host down),
--force records the job and its backup failed at once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("job %q: give a job id (ferry jobs --active lists them)", args[0])
			}
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				j, err := cancelJob(cmd.Context(), cat, id, wait, force)
				if asJSON {
					if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(view.JobOf(j)); jerr != nil && err == nil {
						err = jerr
					}
				} else if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "job %d %s\n", j.ID, j.State)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for the job to end (0: do not wait)")
	cmd.Flags().BoolVar(&force, "force", false, "record the job failed now, for a job whose process is gone")
	return cmd
}

// cancelJob requests the cancel and waits for the job to end.
func cancelJob(ctx context.Context, cat catalog.Catalog, id int64, wait time.Duration, force bool) (catalog.Job, error) {
	j, err := cat.RequestCancel(ctx, id)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return j, fmt.Errorf("no job %d (ferry jobs lists them)", id)
	case errors.Is(err, catalog.ErrJobEnded):
		return j, fmt.Errorf("job %d has already ended: %s", id, j.State)
	case err != nil:
		return j, err
	}
	if force {
		return forceFail(ctx, cat, j)
	}
	deadline := time.Now().Add(wait)
	for j.Active() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if j, err = cat.Job(ctx, id); err != nil {
			return j, err
		}
	}
	if j.Active() {
		if wait == 0 {
			return j, nil // asked, not waited for
		}
		return j, fmt.Errorf("job %d is marked cancelling but its process (pid %d) has not ended it within %v; "+
			"if that process is gone, ferry cancel --force %d records it failed", id, j.PID, wait, id)
	}
	if j.State != catalog.JobCancelled {
		return j, fmt.Errorf("job %d ended %s before the cancel took effect: %s", id, j.State, j.Error)
	}
	return j, nil
}

// forceFail records a job whose process is gone, and its backup, failed.
func forceFail(ctx context.Context, cat catalog.Catalog, j catalog.Job) (catalog.Job, error) {
	const why = "cancelled by force (ferry cancel --force): the process running it did not end it"
	j.State, j.Ended, j.Error = catalog.JobFailed, time.Now().UTC(), why
	if err := cat.UpdateJob(ctx, j); err != nil {
		return j, err
	}
	if j.BackupID != 0 {
		b, err := cat.Backup(ctx, j.BackupID)
		if err == nil && b.Status == catalog.StatusRunning {
			err = cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusFailed, Ended: j.Ended,
				Error: why, Env: b.Env})
		}
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return j, err
		}
	}
	return j, nil
}
