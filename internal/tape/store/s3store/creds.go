package s3store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

var (
	// ErrNoCredentials: neither a credentials file nor the environment
	// gives an access key and a secret.
	ErrNoCredentials = errors.New("s3store: no S3 credentials")
	// ErrCredentialsMode: the credentials file can be read by others than
	// its owner; a secret there is no secret.
	ErrCredentialsMode = errors.New("s3store: credentials file readable by group or others (want mode 0600)")
	// ErrCredentialsFile: the credentials file cannot be understood.
	ErrCredentialsFile = errors.New("s3store: bad credentials file")
)

// Credentials sign S3 requests. They print as "[redacted]" whatever the
// verb, so a secret cannot end up in a log line or an error by accident.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // optional
}

func (Credentials) String() string   { return "[redacted]" }
func (Credentials) GoString() string { return "[redacted]" }

// Format prints the redaction for every verb (%v, %+v, %#v, %s, %q, ...).
func (c Credentials) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[redacted]") }

// LoadCredentials reads credentials from a file only its owner can read
// (mode 0600 or stricter): lines "access_key_id = KEY",
// "secret_access_key = SECRET" and optionally "session_token = TOKEN".
// The AWS spellings (aws_access_key_id, ...) and [section] lines of an
// AWS credentials file are accepted; the first profile wins. Errors never
// quote the file's contents.
func LoadCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Credentials{}, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Credentials{}, fmt.Errorf("%w: %s is %04o", ErrCredentialsMode, path, st.Mode().Perm())
	}
	return parseCredentials(f, path)
}

// parseCredentials reads the lines of a credentials file; name names it
// in errors, which never quote its contents.
func parseCredentials(r io.Reader, name string) (Credentials, error) {
	var c Credentials
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		if s[0] == '[' {
			if c.AccessKeyID != "" {
				break // the first profile only
			}
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return Credentials{}, fmt.Errorf("%w: %s line %d: no '='", ErrCredentialsFile, name, line)
		}
		v = strings.TrimSpace(v)
		switch strings.TrimPrefix(strings.ToLower(strings.TrimSpace(k)), "aws_") {
		case "access_key_id":
			c.AccessKeyID = v
		case "secret_access_key":
			c.SecretAccessKey = v
		case "session_token":
			c.SessionToken = v
		}
	}
	if err := sc.Err(); err != nil {
		return Credentials{}, fmt.Errorf("%w: %s: line too long or unreadable", ErrCredentialsFile, name)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, fmt.Errorf("%w: %s has no access_key_id and secret_access_key", ErrNoCredentials, name)
	}
	return c, nil
}

// EnvCredentials reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN.
func EnvCredentials() (Credentials, error) {
	c := Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, fmt.Errorf("%w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or give a credentials file", ErrNoCredentials)
	}
	return c, nil
}

// ResolveCredentials reads the file if path is set, else the environment.
func ResolveCredentials(path string) (Credentials, error) {
	if path != "" {
		return LoadCredentials(path)
	}
	return EnvCredentials()
}
