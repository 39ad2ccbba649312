package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"ferry/internal/dma"
	"ferry/internal/node"
)

func newCatalogRebuildCommand(g *globalOptions) *cobra.Command {
	var tape, pwFile string
	var asJSON, noFiles bool
	cmd := &cobra.Command{
		Use:   "rebuild [--tape ndmp://AGENT/DRIVE] [--no-files]",
		Short: "Recreate the catalog from cartridges alone, after it was lost",
		Long: `Read the headers and trailers ferry writes around every backup image and
recreate each backup under its original id: its chain, level, dump date
token (so the next --incremental follows on), environment and tape location,
and its file history read back from the image (--no-files skips that: the
backups are then restorable as a whole only). A backup whose image has no
trailer did not finish and is recorded failed. Backups the catalog still has
(the same identity) are left alone, so a rebuild can be run again after
adding cartridges. A backup whose id the catalog gives another backup
already (a catalog was lost or replaced by an older copy before it was
written) is recorded under a new id, and the rebuild says so; incrementals
are chained to their own full backups by identity whatever their ids.

This is the command to run when the catalog is missing, empty or unreadable
while the library holds written cartridges: other commands refuse to start
a catalog afresh then.

With no --tape every cartridge of the state directory's library is read,
through ferry's in-process agent: a cartridge in a slot is moved into an
empty drive and back. --tape reads the cartridge in a drive of an agent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			pw, err := optionalPassword(pwFile)
			if err != nil {
				return err
			}
			cat, err := dma.OpenCatalog(ctx, catalogSpec(g, state), node.Layout{Root: state}, true)
			if err != nil {
				return err
			}
			defer cat.Close()
			total, err := dma.NewManager(cat, managerConfig(g, state)).Rebuild(ctx, dma.RebuildRequest{Tape: tape, Password: pw, NoFiles: noFiles})
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(total)
			}
			for _, r := range total.Renumbered {
				fmt.Fprintf(cmd.OutOrStdout(), "backup %d (tape file %d of %s, identity %s) is recorded as backup %d: the catalog has another backup %d\n",
					r.HeaderID, r.File, r.Barcode, r.UUID, r.ID, r.HeaderID)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "catalog rebuilt: %d backups added %v, %d already there, %d files\n",
				len(total.Added), total.Added, len(total.Present), total.Files)
			for _, d := range total.Damaged {
				fmt.Fprintf(cmd.OutOrStdout(), "damaged, skipped: %s\n", d)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tape, "tape", "", "read only the cartridge in this drive of an agent, ndmp://AGENT/DRIVE")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "password of an unregistered agent (else $FERRY_NDMP_PASSWORD)")
	cmd.Flags().BoolVar(&noFiles, "no-files", false, "do not read the images for their file history")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
