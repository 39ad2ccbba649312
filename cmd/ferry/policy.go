package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/view"
)

func newPolicyCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Backup policies that ferry serve runs on their schedules, with retention",
		Long: `A policy backs up one source on cron schedules (a full, and optionally
incrementals) and keeps its backups for a time or a number of fulls. A running
ferry serve on the same state directory runs policies when they are due (within
15 s of a policy being added), retries a failed run with backoff, runs a due time
missed while it was stopped once when it starts again, and expires and prunes
after each run. docs/policies.md.`,
	}
	cmd.AddCommand(newPolicyAddCommand(g), newPolicyLsCommand(g), newPolicyRmCommand(g), newPolicyRunCommand(g))
	return cmd
}

func newPolicyAddCommand(g *globalOptions) *cobra.Command {
	var p catalog.Policy
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add NAME --source DIR|ndmp://AGENT/PATH --full CRON [--incremental CRON] --keep DURATION|COUNT",
		Short: "Add a policy",
		Long: `Add a policy. CRON is the 5-field schedule (minute hour day-of-month month
day-of-week) with ranges, lists, steps and names, e.g. "0 2 * * sun" or
"30 1 * * mon-sat", in the node's local time. --keep is a time each backup is
kept (30d, 8w, 1y, 36h) or a number of fulls kept with their incrementals (4).
Due times before the policy was added never run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Name = args[0]
			return withManager(cmd.Context(), g, func(m *dma.Manager) error {
				added, err := m.AddPolicy(cmd.Context(), p)
				if err != nil {
					return err
				}
				v, err := m.PolicyView(cmd.Context(), added, time.Now())
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(v)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "policy %s: %s, next run %s\n", v.Name, v.Source, nextText(v))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Source, "source", "", "directory on this machine, or ndmp://AGENT/PATH")
	f.StringVar(&p.Tape, "tape", "", "drive to write to, ndmp://AGENT/DRIVE (default: tape0 of the data agent)")
	f.StringVar(&p.Pool, "pool", "", "pool of cartridges to write (default: the default pool)")
	f.StringVar(&p.Full, "full", "", "cron schedule of the full backups")
	f.StringVar(&p.Incremental, "incremental", "", "cron schedule of the incremental backups (default: none)")
	f.StringVar(&p.Keep, "keep", "", "retention: a time (30d, 8w, 1y, 36h) or a number of fulls (4)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	for _, name := range []string{"source", "full", "keep"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newPolicyLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List policies with their last result and next run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withManager(cmd.Context(), g, func(m *dma.Manager) error {
				vs, err := m.PolicyViews(cmd.Context(), time.Now())
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(vs)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSOURCE\tFULL\tINCREMENTAL\tKEEP\tLAST RESULT\tNEXT RUN")
				for _, v := range vs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.Source, v.Full, dash(v.Incremental), v.Keep,
						lastText(v.LastRun), nextText(v))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPolicyRmCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a policy (its backups stay, with their retention)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				if err := cat.DeletePolicy(cmd.Context(), args[0]); err != nil {
					return fmt.Errorf("policy %s: %w", args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "policy %s removed\n", args[0])
				return nil
			})
		},
	}
}

func newPolicyRunCommand(g *globalOptions) *cobra.Command {
	var full, incremental, asJSON bool
	var changer dma.ChangerOptions
	cmd := &cobra.Command{
		Use:   "run NAME [--full|--incremental]",
		Short: "Run a policy's backup now, in this process, then apply its retention",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if full && incremental {
				return fmt.Errorf("give --full or --incremental, not both")
			}
			kind := catalog.PolicyFull
			if incremental {
				kind = catalog.PolicyIncremental
			}
			return withManager(cmd.Context(), g, func(m *dma.Manager) error {
				p, err := m.Catalog().Policy(cmd.Context(), args[0])
				if err != nil {
					return fmt.Errorf("policy %s: %w", args[0], err)
				}
				r, err := m.RunPolicy(cmd.Context(), p, dma.PolicyRunOptions{Kind: kind, Cause: catalog.CauseManual, Changer: changer})
				if asJSON {
					if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(view.PolicyRunOf(r)); jerr != nil {
						return jerr
					}
				} else if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "policy %s: %s backup %d (job %d) %s\n", p.Name, r.Kind, r.BackupID, r.JobID, r.State)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "take a full backup (the default)")
	cmd.Flags().BoolVar(&incremental, "incremental", false, "take an incremental backup")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	changerFlags(cmd.Flags(), &changer)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func lastText(r *view.PolicyRun) string {
	if r == nil {
		return "never run"
	}
	at := r.Started
	if r.Ended != nil {
		at = *r.Ended
	}
	s := fmt.Sprintf("%s %s %s", r.Kind, r.State, at.Local().Format(time.DateTime))
	if r.Backup != 0 {
		s += fmt.Sprintf(" (backup %d)", r.Backup)
	}
	return s
}

func nextText(v view.Policy) string {
	if v.NextRun == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s", v.NextKind, v.NextRun.Local().Format(time.DateTime))
}
