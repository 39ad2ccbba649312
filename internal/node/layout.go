// Package node is one ferry node: its state directory (one typed layout),
// the servers it runs over it (NDMP, iSCSI, HTTP), and the agent a
// command starts inside its own process. cmd/ferry turns flags into a
// Config and prints; what a node holds and how it starts and stops is
// here. docs/state-directory.md lists the layout.
package node

import "path/filepath"

// Layout is the state directory's layout: every path ferry keeps in it.
type Layout struct {
	Root string
}

// Library is the virtual tape library: cartridges, drives, changer.
func (l Layout) Library() string { return filepath.Join(l.Root, "library") }

// Disks holds the disk images the iSCSI target serves.
func (l Layout) Disks() string { return filepath.Join(l.Root, "disks") }

// Catalog is the default SQLite catalog.
func (l Layout) Catalog() string { return filepath.Join(l.Root, "catalog.db") }

// TargetState is the iSCSI target's identity and ACL (mode 0600).
func (l Layout) TargetState() string { return filepath.Join(l.Root, "iscsi", "target.json") }

// Agents holds the password files of registered agents (mode 0600).
func (l Layout) Agents() string { return filepath.Join(l.Root, "agents") }

// NDMPPassword is the NDMP agent's generated password (mode 0600).
func (l Layout) NDMPPassword() string { return filepath.Join(l.Root, "ndmp-password") }

// Tokens is the management API's tokens: their names and hashes, never
// the tokens themselves (mode 0600; docs/http-api.md, "Token file").
func (l Layout) Tokens() string { return filepath.Join(l.Root, "api-tokens.json") }

// SANTargets holds the CHAP secrets of the SAN targets the data manager
// drives (ferry target add), NAME.chap, mode 0600.
func (l Layout) SANTargets() string { return filepath.Join(l.Root, "targets") }
