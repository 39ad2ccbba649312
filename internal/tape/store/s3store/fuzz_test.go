package s3store

import (
	"strings"
	"testing"
)

// FuzzParseCredentials: any file parses or fails without panicking, and
// an error never quotes a line of the file (a secret may be on it).
func FuzzParseCredentials(f *testing.F) {
	f.Add("access_key_id = AKID\nsecret_access_key = SECRETSECRET\n")
	f.Add("[default]\naws_access_key_id=AKID\naws_secret_access_key=SECRETSECRET\n[other]\naws_access_key_id=X\n")
	f.Add("# comment\naccess_key_id SECRETSECRET\n")
	f.Fuzz(func(t *testing.T, body string) {
		c, err := parseCredentials(strings.NewReader(body), "FILE")
		if err == nil {
			if c.AccessKeyID == "" || c.SecretAccessKey == "" {
				t.Fatalf("accepted without a key or secret: %q", body)
			}
			return
		}
		msg := err.Error()
		for _, line := range strings.Split(body, "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= 12 && strings.Contains(msg, line) {
				t.Fatalf("error %q quotes the line %q", msg, line)
			}
		}
	})
}

// FuzzParseURL: any string parses to a bucket or fails, and a failure
// never quotes the string (a user may have put a key in it).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://bucket/prefix/x", "s3://bucket", "s3://AKID:SECRET@bucket/p", "http://bucket/p", "s3:///p", "s3://b/p?x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		bucket, prefix, err := ParseURL(raw)
		if err != nil {
			if len(raw) >= 8 && strings.Contains(err.Error(), raw) {
				t.Fatalf("error quotes the URL: %v", err)
			}
			return
		}
		if bucket == "" || strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
			t.Fatalf("ParseURL(%q) = %q, %q", raw, bucket, prefix)
		}
	})
}
