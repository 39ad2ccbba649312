package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ferry/internal/dma"
	"ferry/internal/size"
	"ferry/internal/view"
)

// newTargetAddCommand registers a SAN target on the data-manager side.
func newTargetAddCommand(g *globalOptions) *cobra.Command {
	var spec dma.SANTargetSpec
	cmd := &cobra.Command{
		Use:   "add NAME iscsi://HOST:PORT/IQN [--chap-secret-file F] [--api URL --token-file F]",
		Short: "Register an iSCSI target (with a copy manager) for serverless backups",
		Long: `Register an iSCSI target in the catalog under NAME, for ferry backup
--serverless and ferry restore --serverless. Its CHAP secret, if it asks for
one, is copied from --chap-secret-file into the state directory (mode 0600),
never into the catalog. ferry's data manager logs in as ` + dma.InitiatorName + `.

--api names the target's management API (ferry serve --http on the target's
node), whose snapshot service makes serverless backups point-in-time and
incrementals changed-block; --token-file holds a read-write token for it
(ferry token create on that node), copied into the state directory like the
CHAP secret. Without --api, disks are copied live ("not point-in-time").`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withManager(cmd.Context(), g, func(m *dma.Manager) error {
				spec.Name, spec.URL = args[0], args[1]
				t, err := m.RegisterSANTarget(cmd.Context(), spec)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "target %s: %s\n", t.Name, t.URL)
				if t.APIURL != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "snapshot service: %s\n", t.APIURL)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&spec.SecretFile, "chap-secret-file", "", "file holding the CHAP secret the target asks of ferry's initiator")
	cmd.Flags().StringVar(&spec.APIURL, "api", "", "the target's management API, http(s)://HOST:PORT (its snapshot service)")
	cmd.Flags().StringVar(&spec.TokenFile, "token-file", "", "file holding a read-write bearer token for --api")
	return cmd
}

// printSANTargets lists the registered SAN targets for `ferry target ls`.
func printSANTargets(ctx context.Context, g *globalOptions, out io.Writer) error {
	return withManager(ctx, g, func(m *dma.Manager) error {
		ts, err := m.SANTargets(ctx)
		if err != nil || len(ts) == 0 {
			return err
		}
		fmt.Fprintln(out, "registered SAN targets:")
		tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
		for _, t := range ts {
			auth := "none"
			if t.SecretRef != "" {
				auth = "chap"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, t.URL, auth, orDash(t.APIURL))
		}
		return tw.Flush()
	})
}

// serverlessDoc is `ferry backup|restore --serverless --json`'s output.
type serverlessDoc struct {
	view.Backup
	Serverless dma.ServerlessResult `json:"serverless"`
}

func runServerlessBackup(ctx context.Context, g *globalOptions, source, tape string, incremental, asJSON bool, out io.Writer) error {
	return withManager(ctx, g, func(m *dma.Manager) error {
		progress, stop := progressLine(asJSON)
		res, err := m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: source, Tape: tape, Incremental: incremental, Progress: progress})
		stop()
		if err != nil {
			return err
		}
		return printServerless(out, "backup", res, asJSON)
	})
}

func runServerlessRestore(ctx context.Context, g *globalOptions, id int64, to, tape string, asJSON bool, out io.Writer) error {
	return withManager(ctx, g, func(m *dma.Manager) error {
		progress, stop := progressLine(asJSON)
		res, err := m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: id, To: to, Tape: tape, Progress: progress})
		stop()
		if err != nil {
			return err
		}
		return printServerless(out, "restore", res, asJSON)
	})
}

func printServerless(out io.Writer, what string, res dma.ServerlessResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(out).Encode(serverlessDoc{Backup: view.BackupOf(res.Backup), Serverless: res})
	}
	b := res.Backup
	fmt.Fprintf(out, "serverless %s of backup %d: %s of %s in %d extents, %d copy lists, cartridge %s; data path: %s",
		what, b.ID, size.Format(uint64(res.ImageBytes)), orDash(res.Source+res.To), res.Extents, res.Lists, orDash(res.Barcode), res.DataPath)
	if res.Note != "" {
		fmt.Fprintf(out, " (%s)", res.Note)
	}
	if res.Snapshot != "" {
		fmt.Fprintf(out, "; point in time: snapshot %s", res.Snapshot)
	}
	if res.Level > 0 {
		fmt.Fprintf(out, "; incremental level %d on backup %d", res.Level, res.Base)
	}
	fmt.Fprintln(out)
	return nil
}
