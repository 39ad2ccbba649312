package main

import (
	"fmt"
	"os"
	"path/filepath"

	"ferry/internal/node"
)

// stateDir resolves the state directory: the flag, then $FERRY_HOME, then
// ~/.local/share/ferry. It is created when missing.
func stateDir(g *globalOptions) (string, error) {
	dir := g.state
	if dir == "" {
		dir = os.Getenv("FERRY_HOME")
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no state directory: set --state or FERRY_HOME (%v)", err)
		}
		dir = filepath.Join(home, ".local", "share", "ferry")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create state directory: %w", err)
	}
	return dir, nil
}

// catalogSpec names the catalog: --catalog (a PostgreSQL URL or DSN, or a
// SQLite file), then $FERRY_CATALOG, else STATE/catalog.db.
func catalogSpec(g *globalOptions, state string) string {
	spec := g.catalog
	if spec == "" {
		spec = os.Getenv("FERRY_CATALOG")
	}
	if spec == "" {
		spec = node.Layout{Root: state}.Catalog()
	}
	return spec
}
