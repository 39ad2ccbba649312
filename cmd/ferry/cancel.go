package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/dma"
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
			return withManager(cmd.Context(), g, func(m *dma.Manager) error {
				j, err := m.Cancel(cmd.Context(), id, wait, force)
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
