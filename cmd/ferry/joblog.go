package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/view"
)

func newLogCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "log JOB",
		Short: "Show a job's log: what its agents reported, files not backed up or restored among it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not a job id (ferry jobs lists them)", args[0])
			}
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				j, err := cat.Job(cmd.Context(), id)
				if err != nil {
					return fmt.Errorf("job %d: %w (ferry jobs lists them)", id, err)
				}
				lines, err := cat.JobLog(cmd.Context(), id)
				if err != nil {
					return err
				}
				return printJobLog(cmd.OutOrStdout(), j, lines, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printJobLog(out io.Writer, j catalog.Job, lines []catalog.LogLine, asJSON bool) error {
	if asJSON {
		doc := struct {
			view.Job
			Log []view.LogLine `json:"log"`
		}{Job: view.JobOf(j), Log: []view.LogLine{}}
		for _, l := range lines {
			doc.Log = append(doc.Log, view.LogLine{At: l.At, Level: l.Level, Message: l.Message})
		}
		return json.NewEncoder(out).Encode(doc)
	}
	fmt.Fprintf(out, "job %d: %s, %s\n", j.ID, j.Kind, stateText(j.State))
	if j.Error != "" {
		fmt.Fprintf(out, "error: %s\n", j.Error)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.At.Local().Format(time.DateTime), l.Level, l.Message)
	}
	return tw.Flush()
}

// stateText is a job or backup state as a person reads it.
func stateText(s string) string {
	if s == catalog.JobWarnings {
		return "completed with warnings"
	}
	return s
}

// maxProblemsShown bounds the problems a command prints; `ferry log` has all.
const maxProblemsShown = 50

// warningsExit prints a job's problems on w and returns the exit error of
// a job completed with warnings.
func warningsExit(w io.Writer, what string, jobID int64, ps []string) error {
	for i, p := range ps {
		if i == maxProblemsShown {
			fmt.Fprintf(w, "ferry: ... and %d more\n", len(ps)-i)
			break
		}
		fmt.Fprintf(w, "ferry: %s\n", p)
	}
	return exitError{code: exitWarnings, err: fmt.Errorf("%s completed with warnings: %d problems (ferry log %d lists them)", what, len(ps), jobID)}
}
