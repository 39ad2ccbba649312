package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/httpapi/token"
	"ferry/internal/node"
	"ferry/internal/view"
)

func newTokenCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the bearer tokens of the management API (ferry serve --http)",
	}
	cmd.AddCommand(newTokenCreateCommand(g), newTokenLsCommand(g), newTokenRevokeCommand(g))
	return cmd
}

// tokenFile is STATE/api-tokens.json.
func tokenFile(g *globalOptions) (string, error) {
	state, err := stateDir(g)
	if err != nil {
		return "", err
	}
	return node.Layout{Root: state}.Tokens(), nil
}

func newTokenCreateCommand(g *globalOptions) *cobra.Command {
	var name string
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "create [--read-only] [--name NAME]",
		Short: "Make an API token and print it (once: only its hash is kept)",
		Long: `Make a bearer token for the management API (256 random bits) and print it on
standard output. The state directory keeps only its SHA-256 hash, with its name,
creation time and whether it is read-only (STATE/api-tokens.json, mode 0600):
the token cannot be shown again. A read-only token reads the API and /metrics;
any other request gets 403. A running ferry serve accepts the token at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := tokenFile(g)
			if err != nil {
				return err
			}
			secret, t, err := token.Create(path, name, readOnly, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			kind := "read-write"
			if t.ReadOnly {
				kind = "read-only"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "ferry: token %s (%s) created; it is shown this once\n", t.Name, kind)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the token's name, for ls and revoke (default: token-RANDOM)")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "the token may only read (GET): dashboards, Prometheus")
	return cmd
}

func newTokenLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the API tokens: name, creation time, read-only",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := tokenFile(g)
			if err != nil {
				return err
			}
			ts, err := token.List(path)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]view.Token, 0, len(ts))
				for _, t := range ts {
					out = append(out, view.Token{Name: t.Name, Created: t.Created, ReadOnly: t.ReadOnly})
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tACCESS")
			for _, t := range ts {
				access := "read-write"
				if t.ReadOnly {
					access = "read-only"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Created.Local().Format(time.DateTime), access)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newTokenRevokeCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an API token: a running ferry serve refuses it from the next request on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := tokenFile(g)
			if err != nil {
				return err
			}
			return token.Revoke(path, args[0])
		},
	}
}
