package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/library"
	"ferry/internal/node"
	"ferry/internal/view"
)

// localAgentName is the catalog's name for the agent ferry starts inside
// the process on the state directory's library.
const localAgentName = "local"

// passwordEnv holds the password of an unregistered agent.
const passwordEnv = "FERRY_NDMP_PASSWORD"

var agentNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

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
	if !agentNameRE.MatchString(name) || name == localAgentName {
		return fmt.Errorf("agent name %q: use letters, digits, '.', '_' and '-' (and not %q, ferry's built-in agent)", name, localAgentName)
	}
	user, host, err := dma.AgentURL(rawURL)
	if err != nil {
		return err
	}
	pw, err := readPasswordFile(pwFile)
	if err != nil {
		return err
	}
	state, err := stateDir(g)
	if err != nil {
		return err
	}
	dir := node.Layout{Root: state}.Agents()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	secret := filepath.Join(dir, name+".secret")
	if err := writeSecret(secret, pw); err != nil {
		return err
	}
	cat, err := openCatalog(cmd.Context(), g, state)
	if err != nil {
		return err
	}
	defer cat.Close()
	a := catalog.Agent{Name: name, URL: "ndmp://" + user + "@" + host, SecretRef: secret, Created: time.Now().UTC()}
	if err := cat.PutAgent(cmd.Context(), a); err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(view.AgentOf(a))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "agent %s: %s (password in %s)\n", a.Name, a.URL, secret)
	return nil
}

// writeSecret replaces path with a 0600 file holding pw.
func writeSecret(path, pw string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("store agent password: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func newAgentLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the registered NDMP agents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			cat, err := openCatalog(cmd.Context(), g, state)
			if err != nil {
				return err
			}
			defer cat.Close()
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
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// openCatalog opens the catalog (catalogSpec), refusing one that is
// missing, empty or unreadable beside written cartridges
// (openCheckedCatalog).
// Jobs a process that is gone left running are reconciled first.
func openCatalog(ctx context.Context, g *globalOptions, state string) (catalog.Catalog, error) {
	cat, err := openCheckedCatalog(ctx, g, state, false)
	if err == nil {
		reconcileJobs(ctx, cat, state)
	}
	return cat, err
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

// resolveAgent turns a catalog agent name (registered, or USER@HOST:PORT)
// into an address and credentials. An unregistered agent's password comes
// from pwFile, else $FERRY_NDMP_PASSWORD.
func resolveAgent(ctx context.Context, cat catalog.Catalog, name, pwFile string) (dma.Agent, error) {
	t, err := dma.ParseTarget("ndmp://" + name + "/")
	if err != nil {
		return dma.Agent{}, err
	}
	if t.Registered() {
		a, err := cat.Agent(ctx, name)
		if errors.Is(err, catalog.ErrNotFound) {
			return dma.Agent{}, fmt.Errorf("no agent %q: register it with ferry agent add %s ndmp://USER@HOST:PORT --password-file FILE, or name it USER@HOST:PORT", name, name)
		}
		if err != nil {
			return dma.Agent{}, err
		}
		user, host, err := dma.AgentURL(a.URL)
		if err != nil {
			return dma.Agent{}, err
		}
		pw, err := readPasswordFile(a.SecretRef)
		if err != nil {
			return dma.Agent{}, fmt.Errorf("agent %s: %w (register it again with ferry agent add)", name, err)
		}
		return dma.Agent{Name: name, Addr: host, User: user, Password: pw}, nil
	}
	pw := os.Getenv(passwordEnv)
	if pwFile != "" {
		if pw, err = readPasswordFile(pwFile); err != nil {
			return dma.Agent{}, err
		}
	}
	if pw == "" {
		return dma.Agent{}, fmt.Errorf("agent %s: no password: give --password-file FILE or set %s (or register the agent with ferry agent add)", name, passwordEnv)
	}
	return dma.Agent{Name: t.Agent, Addr: t.Host, User: t.User, Password: pw}, nil
}

// localAgent is ferry's NDMP agent started inside the process
// (node.LocalAgent), as the data manager names it.
type localAgent struct {
	*node.LocalAgent
	agent dma.Agent
	lib   *library.Library
}

// startLocalAgent starts the in-process agent with exports (may be none);
// its backups never store protect (nor the state directory).
func startLocalAgent(state string, exports []string, protect ...string) (*localAgent, error) {
	a, err := node.StartLocalAgent(node.Layout{Root: state}, exports, protect...)
	if err != nil {
		return nil, err
	}
	return &localAgent{LocalAgent: a, lib: a.Lib,
		agent: dma.Agent{Name: localAgentName, Addr: a.Addr, User: a.User, Password: a.Password}}, nil
}

// driveWith returns the drive holding barcode, else tape0, into which the
// job loads it through the changer.
func (l *localAgent) driveWith(barcode string) string {
	els, _ := l.lib.Elements()
	for _, e := range els {
		if e.Drive != "" && e.Full && e.Barcode == barcode {
			return e.Drive
		}
	}
	return "tape0"
}

// stop shuts the agent down and closes the library.
func (l *localAgent) stop() { l.Stop() }
