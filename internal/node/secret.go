package node

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
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

// EnsureSecret creates path (mode 0600) holding a random secret unless it
// exists: the NDMP agent's password when none is given.
func EnsureSecret(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create password file: %w", err)
	}
	// 18 random bytes give 24 characters (144 bits). Some DMAs keep fewer
	// than 32 (Amanda's ndmjob cuts at 31), and MD5 auth uses at most 32.
	secret := make([]byte, 18)
	rand.Read(secret)
	_, err = fmt.Fprintln(f, base64.RawURLEncoding.EncodeToString(secret))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
