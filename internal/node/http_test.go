package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func hello(*Node) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestNodeHTTPListenerFails: the HTTP server is one more server of the
// node: it rides out accept errors that pass, and a listener that fails
// for good stops the node with its error.
func TestNodeHTTPListenerFails(t *testing.T) {
	n, fl := startFlaky(t, Config{HTTPAddr: "127.0.0.1:0", HTTP: hello})
	if got := get(t, http.DefaultClient, "http://"+n.HTTPAddr().String()+"/"); got != "hello" {
		t.Fatalf("GET = %q", got)
	}
	fl.breakNow()
	if err := waitFailure(t, n); !strings.Contains(err.Error(), "HTTP server") {
		t.Fatalf("Wait = %v, want the HTTP server's failure", err)
	}
}

// nonLoopback is an address of this machine that is not loopback, or ""
// when it has none.
func nonLoopback(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// TestNodePlainHTTPLoopbackOnly: plain HTTP on an address other hosts
// reach is refused (the wildcard address included) unless allowed.
func TestNodePlainHTTPLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0"} {
		_, err := Start(Config{Layout: Layout{Root: t.TempDir()}, HTTPAddr: addr, HTTP: hello})
		if !errors.Is(err, ErrPlainHTTP) {
			t.Fatalf("plain HTTP on %s: Start = %v, want ErrPlainHTTP", addr, err)
		}
	}
	n, err := Start(Config{Layout: Layout{Root: t.TempDir()}, HTTPAddr: "0.0.0.0:0", HTTP: hello, HTTPS: HTTPSecurity{Insecure: true}})
	if err != nil {
		t.Fatalf("plain HTTP allowed as insecure: %v", err)
	}
	defer n.Shutdown(context.Background())
	port := n.HTTPAddr().(*net.TCPAddr).Port
	if got := get(t, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(port)+"/"); got != "hello" {
		t.Fatalf("GET = %q", got)
	}
}

// TestNodeHTTPS: with a certificate and key the API is served over TLS,
// on any address, and plain HTTP gets no answer from it.
func TestNodeHTTPS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	addr := "127.0.0.1:0"
	if ip := nonLoopback(t); ip != "" {
		addr = ip + ":0"
	}
	n, err := Start(Config{Layout: Layout{Root: t.TempDir()}, HTTPAddr: addr, HTTP: hello,
		HTTPS: HTTPSecurity{CertFile: certFile, KeyFile: keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "ferry.test"}}}
	if got := get(t, c, "https://"+n.HTTPAddr().String()+"/"); got != "hello" {
		t.Fatalf("GET over TLS = %q", got)
	}
	resp, err := http.Get("http://" + n.HTTPAddr().String() + "/")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) == "hello" {
			t.Fatal("plain HTTP answered on the HTTPS port")
		}
	}
	if _, err := Start(Config{Layout: Layout{Root: t.TempDir()}, HTTPAddr: "127.0.0.1:0", HTTP: hello,
		HTTPS: HTTPSecurity{CertFile: certFile}}); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
}

// selfSigned writes a certificate for ferry.test and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry.test"},
		DNSNames: []string{"ferry.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
