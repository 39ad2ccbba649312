package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/size"
	"ferry/internal/view"
)

func newMediaCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "media",
		Short: "List the cartridges the catalog knows, with their state and the backups on them",
		Long: `List the cartridges backups were written to, by barcode (or the volume name
ferry gave a cartridge whose barcode the agent could not tell): the agent whose
library holds it, its pool, its state (scratch: written from its start by the
next backup of its pool; append: backups append to it; full: a backup spanned
onto another cartridge at its end; frozen, retired, error), the image bytes on
it, the tape file the next backup starts at, and the backups with a piece on
it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				ms, err := cat.Media(cmd.Context())
				if err != nil {
					return err
				}
				out := make([]view.Medium, 0, len(ms))
				for _, m := range ms {
					locs, err := cat.OnMedium(cmd.Context(), m.Barcode)
					if err != nil {
						return err
					}
					out = append(out, view.MediumOf(m, locs))
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BARCODE\tLIBRARY\tPOOL\tSTATE\tUSED\tNEXT FILE\tBACKUPS")
				for _, m := range out {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", m.Barcode, orDash(m.Library), m.Pool, orDash(m.State),
						size.Format(uint64(m.Used)), m.NextFile, m.Backups)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the cartridges as JSON")
	return cmd
}
