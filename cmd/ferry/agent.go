package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/node"
	"ferry/internal/view"
)

func newAgentCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Register the NDMP agents the data manager drives",
	}
	cmd.AddCommand(newAgentAddCommand(g), newAgentLsCommand(g))
	return cmd
}

func newAgentAddCommand(g *globalOptions) *cobra.Command {
	var pwFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add NAME ndmp://USER@HOST:PORT --password-file FILE",
		Short: "Register an NDMP agent; its password is copied into the state directory (mode 0600)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAgentAdd(cmd, g, args[0], args[1], pwFile, asJSON)
		},
	}
	cmd.Flags().StringVar(&pwFile, "password-file", "", "file holding the agent's NDMP password (first line)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagRequired("password-file")
	return cmd
}

func runAgentAdd(cmd *cobra.Command, g *globalOptions, name, rawURL, pwFile string, asJSON bool) error {
	pw, err := node.ReadSecret(pwFile)
	if err != nil {
		return err
	}
	return withManager(cmd.Context(), g, func(m *dma.Manager) error {
		a, err := m.AddAgent(cmd.Context(), name, rawURL, pw)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(cmd.OutOrStdout()).Encode(view.AgentOf(a))
		}
		fmt.Fprintf(cmd.OutOrStdout(), "agent %s: %s (password in %s)\n", a.Name, a.URL, a.SecretRef)
		return nil
	})
}

func newAgentLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the registered NDMP agents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				as, err := cat.Agents(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]view.Agent, 0, len(as))
					for _, a := range as {
						out = append(out, view.AgentOf(a))
					}
					return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tURL\tADDED")
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, a.URL, a.Created.Local().Format(time.DateTime))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// openCatalog opens the catalog (catalogSpec), refusing one that is
// missing, empty or unreadable beside written cartridges
// (dma.OpenCatalog). Jobs a process that is gone left running are
// reconciled first.
func openCatalog(ctx context.Context, g *globalOptions, state string) (catalog.Catalog, error) {
	cat, err := dma.OpenCatalog(ctx, catalogSpec(g, state), node.Layout{Root: state}, false)
	if err == nil {
		reconcileJobs(ctx, dma.NewManager(cat, managerConfig(g, state)))
	}
	return cat, err
}

// managerConfig is the data manager's configuration from the flags and
// the environment.
func managerConfig(g *globalOptions, state string) dma.ManagerConfig {
	return dma.ManagerConfig{Layout: node.Layout{Root: state}, Protect: ownFiles(g, state), Password: os.Getenv(dma.PasswordEnv)}
}

// withManager runs fn with the data manager over the state directory's
// catalog.
func withManager(ctx context.Context, g *globalOptions, fn func(*dma.Manager) error) error {
	state, err := stateDir(g)
	if err != nil {
		return err
	}
	cat, err := openCatalog(ctx, g, state)
	if err != nil {
		return err
	}
	defer cat.Close()
	return fn(dma.NewManager(cat, managerConfig(g, state)))
}

// optionalPassword reads a password file, if one is named.
func optionalPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	return node.ReadSecret(path)
}

// ownFiles are the files of ferry's own that a local backup must never
// store besides the state directory: a SQLite catalog kept elsewhere and
// its journal.
func ownFiles(g *globalOptions, state string) []string {
	spec := catalogSpec(g, state)
	if catalog.IsPostgres(spec) {
		return nil
	}
	return []string{spec, spec + "-wal", spec + "-shm", spec + "-journal", spec + ".lock"}
}
