package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/dma"
	"ferry/internal/size"
)

func newPruneCommand(g *globalOptions) *cobra.Command {
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "prune [--dry-run]",
		Short: "Expire backups past their retention and return cartridges that hold nothing kept to scratch",
		Long: `Expire every backup whose retention (ferry backup --keep) has passed, except a
full or lower-level backup that a kept incremental depends on, and return to
scratch every cartridge (in state append or full) on which every backup
expired, failed or was cancelled: the next backup of the cartridge's pool
writes it again from just after its label. Expired backups stay listed but
are no longer restored. --dry-run says what would be expired and freed, and
changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withManager(cmd.Context(), g, func(m *dma.Manager) error {
				res, err := m.Prune(cmd.Context(), time.Now(), dryRun)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
				}
				verb, freed := "expired", "returned to scratch"
				if dryRun {
					verb, freed = "would expire", "would return to scratch"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %d backups %v; %s %d cartridges %v (%s)\n", verb, len(res.Expired), res.Expired,
					freed, len(res.Freed), res.Freed, size.Format(uint64(res.FreedBytes)))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be expired and freed; change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
