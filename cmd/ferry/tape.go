package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ferry/internal/dma"
	"ferry/internal/library"
	"ferry/internal/node"
	"ferry/internal/view"
)

func newTapeCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tape",
		Short: "Look at and handle the state directory's tape library",
	}
	cmd.AddCommand(newTapeCatCommand(g), newTapeLsCommand(g), newTapeImportCommand(g), newTapeExportCommand(g), newTapeMoveCommand(g))
	return cmd
}

func openLibrary(g *globalOptions) (*library.Library, error) {
	state, err := stateDir(g)
	if err != nil {
		return nil, err
	}
	lib, err := library.Open(node.Layout{Root: state}.Library())
	if err != nil {
		return nil, fmt.Errorf("open tape library: %w", err)
	}
	return lib, nil
}

func newTapeCatCommand(g *globalOptions) *cobra.Command {
	var drive string
	var file uint64
	cmd := &cobra.Command{
		Use:   "cat --drive NAME --file N",
		Short: "Write the bytes of tape file N of the cartridge in a drive to standard output",
		Long: `Write the bytes of tape file N (0 is the first) of the cartridge loaded in a
drive to standard output, as the drive would read them: the records of that
file, concatenated, up to the next filemark or the end of data. It reads
beside a running server without disturbing it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := openLibrary(g)
			if err != nil {
				return err
			}
			defer lib.Close()
			w := bufio.NewWriterSize(os.Stdout, 1<<20)
			if _, err := lib.CatFile(cmd.Context(), drive, file, w); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&drive, "drive", "", "drive whose cartridge to read (tape0, ...)")
	cmd.Flags().Uint64Var(&file, "file", 0, "tape file number, 0 is the first")
	cmd.MarkFlagRequired("drive")
	return cmd
}

func newTapeLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the library's elements: robot, mail slots, drives and slots, with their cartridges",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := openLibrary(g)
			if err != nil {
				return err
			}
			defer lib.Close()
			elems, err := lib.Elements()
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(view.ElementsOf(elems))
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ADDRESS\tTYPE\tNAME\tBARCODE")
			for _, e := range elems {
				barcode := "-"
				if e.Full {
					barcode = e.Barcode
					if barcode == "" {
						barcode = "(unlabelled)"
					}
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.Address, e.Type, e.Drive, barcode)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// changerFlags adds --changer and --drive-element: where the tape agent's
// changer and the job's drive in it are, for changers that do not name
// their drives (ferry's do).
func changerFlags(f *pflag.FlagSet, co *dma.ChangerOptions) {
	f.StringVar(&co.Changer, "changer", "", "the tape agent's changer device (default: the first SCSI device it lists)")
	f.Uint16Var(&co.DriveElement, "drive-element", 0, "the drive's element address in the changer (default: the element naming the drive)")
}
