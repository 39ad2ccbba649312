package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"ferry/internal/changer"
	"ferry/internal/library"
	"ferry/internal/size"
)

func newTapeImportCommand(g *globalOptions) *cobra.Command {
	var capacity string
	var worm bool
	cmd := &cobra.Command{
		Use:   "import BARCODE [--capacity SIZE] [--worm]",
		Short: "Put a cartridge into an empty mail slot, as an operator does (a new one is made blank)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n int64
			if capacity != "" {
				var err error
				if n, err = size.Parse(capacity); err != nil {
					return fmt.Errorf("--capacity: %w", err)
				}
			}
			return withLibrary(g, func(lib *library.Library) error {
				imp := lib.Import
				if worm {
					imp = lib.ImportWORM
				}
				addr, err := imp(args[0], n)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cartridge %s in mail slot %d\n", args[0], addr)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&capacity, "capacity", "", "capacity of a new cartridge, e.g. 12 TiB (default: the library's)")
	cmd.Flags().BoolVar(&worm, "worm", false, "a new cartridge is write-once: data written is never overwritten or erased")
	return cmd
}

func newTapeExportCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "export BARCODE",
		Short: "Take a cartridge out of the library through a mail slot (its file stays on the shelf for a later import)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withLibrary(g, func(lib *library.Library) error {
				els, err := lib.Elements()
				if err != nil {
					return err
				}
				src, ok := elementOf(els, args[0])
				if !ok || !src.Full {
					return fmt.Errorf("no cartridge %s in the library (ferry tape ls lists them)", args[0])
				}
				if src.Type != changer.ImportExport {
					mail, ok := emptyOf(els, changer.ImportExport)
					if !ok {
						return errors.New("no empty mail slot: export a cartridge in one first")
					}
					if err := lib.Move(src.Address, mail.Address); err != nil {
						return err
					}
					src = mail
				}
				barcode, err := lib.Export(src.Address)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cartridge %s exported\n", barcode)
				return nil
			})
		},
	}
}

func newTapeMoveCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "move FROM TO",
		Short: "Move a cartridge between slots, drives and mail slots: FROM is a barcode, a drive or an element address; TO a drive or an element address",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withLibrary(g, func(lib *library.Library) error {
				els, err := lib.Elements()
				if err != nil {
					return err
				}
				src, ok := elementOf(els, args[0])
				if !ok {
					return fmt.Errorf("no element or cartridge %q (ferry tape ls lists them)", args[0])
				}
				dst, ok := elementOf(els, args[1])
				if !ok {
					return fmt.Errorf("no element %q (ferry tape ls lists them)", args[1])
				}
				if err := lib.Move(src.Address, dst.Address); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "moved %s from %d to %d\n", src.Barcode, src.Address, dst.Address)
				return nil
			})
		},
	}
}

// withLibrary runs fn on the state directory's library.
func withLibrary(g *globalOptions, fn func(*library.Library) error) error {
	lib, err := openLibrary(g)
	if err != nil {
		return err
	}
	defer lib.Close()
	return fn(lib)
}

// elementOf finds an element by address, drive name or the barcode of the
// cartridge it holds.
func elementOf(els []changer.Element, name string) (changer.Element, bool) {
	if a, err := strconv.ParseUint(name, 0, 16); err == nil {
		for _, e := range els {
			if e.Address == uint16(a) {
				return e, true
			}
		}
		return changer.Element{}, false
	}
	for _, e := range els {
		if e.Drive == name || e.Full && e.Barcode == name {
			return e, true
		}
	}
	return changer.Element{}, false
}

// emptyOf returns the first empty element of type t.
func emptyOf(els []changer.Element, t changer.ElementType) (changer.Element, bool) {
	for _, e := range els {
		if e.Type == t && !e.Full {
			return e, true
		}
	}
	return changer.Element{}, false
}
