package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/changer"
	"ferry/internal/dma"
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
			cat, err := openCheckedCatalog(ctx, g, state, true)
			if err != nil {
				return err
			}
			defer cat.Close()
			total, err := rebuildCatalog(ctx, cat, state, tape, pwFile, noFiles)
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

// rebuildCatalog rebuilds cat from the cartridge in drive tape
// (ndmp://AGENT/DRIVE), or from every cartridge of the state directory's
// library when tape is "".
func rebuildCatalog(ctx context.Context, cat catalog.Catalog, state, tape, pwFile string, noFiles bool) (dma.RebuildResult, error) {
	var total dma.RebuildResult
	add := func(r dma.RebuildResult) {
		total.Added = append(total.Added, r.Added...)
		total.Present = append(total.Present, r.Present...)
		total.Files += r.Files
		total.Renumbered = append(total.Renumbered, r.Renumbered...)
		total.Damaged = append(total.Damaged, r.Damaged...)
	}
	if tape != "" {
		t, err := dma.ParseTarget(tape)
		if err != nil {
			return total, fmt.Errorf("--tape: %w", err)
		}
		a, err := resolveAgent(ctx, cat, t.Agent, pwFile)
		if err != nil {
			return total, err
		}
		r, err := dma.Rebuild(ctx, cat, dma.RebuildSpec{Agent: a, Drive: t.Device(), NoFiles: noFiles})
		add(r)
		return total, err
	}
	la, err := startLocalAgent(state, nil)
	if err != nil {
		return total, err
	}
	defer la.stop()
	err = eachCartridge(la, func(drive, barcode string) error {
		r, err := dma.Rebuild(ctx, cat, dma.RebuildSpec{Agent: la.agent, Drive: drive, Barcode: barcode, NoFiles: noFiles})
		add(r)
		if err != nil {
			return fmt.Errorf("cartridge %s: %w", barcode, err)
		}
		return nil
	})
	return total, err
}

// eachCartridge calls fn for every cartridge of the in-process agent's
// library with the drive it is in: cartridges in drives where they are,
// the others moved into a drive and back to where they were (into an
// empty drive, else exchanged with the first drive's cartridge).
func eachCartridge(la *localAgent, fn func(drive, barcode string) error) error {
	els, err := la.lib.Elements()
	if err != nil {
		return err
	}
	var reader *changer.Element // the drive slot cartridges are read in
	for i, e := range els {
		if e.Type != changer.DataTransfer {
			continue
		}
		if reader == nil || reader.Full && !e.Full {
			reader = &els[i]
		}
		if e.Full {
			if err := fn(e.Drive, e.Barcode); err != nil {
				return err
			}
		}
	}
	if reader == nil {
		return fmt.Errorf("the library has no drive")
	}
	// load puts the slot's cartridge in the reader; unload puts it back.
	load := func(slot uint16) error { return la.lib.Move(slot, reader.Address) }
	unload := func(slot uint16) error { return la.lib.Move(reader.Address, slot) }
	if reader.Full {
		load = func(slot uint16) error { return la.lib.Exchange(slot, reader.Address, slot) }
		unload = load // the same exchange swaps them back
	}
	for _, e := range els {
		if !e.Full || (e.Type != changer.Storage && e.Type != changer.ImportExport) {
			continue
		}
		if err := load(e.Address); err != nil {
			return fmt.Errorf("load %s into %s: %w", e.Barcode, reader.Drive, err)
		}
		err := fn(reader.Drive, e.Barcode)
		if uerr := unload(e.Address); uerr != nil && err == nil {
			err = fmt.Errorf("put %s back: %w", e.Barcode, uerr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
