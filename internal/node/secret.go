package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadSecret reads the first line of a password or secret file. The file
// must not be readable by others: a password on a shared machine is
// otherwise anyone's.
func ReadSecret(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("password file %s is readable by group or others; chmod 600 it", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimRight(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	return pw, nil
}

// WriteSecret replaces path with a 0600 file holding secret on one line.
func WriteSecret(path, secret string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("store secret: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// AgentSecret is where a registered agent's password is kept.
func (l Layout) AgentSecret(name string) string { return filepath.Join(l.Agents(), name+".secret") }
