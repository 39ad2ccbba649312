package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"

	"ferry/internal/dma"
	"ferry/internal/httpapi"
	"ferry/internal/httpapi/token"
	"ferry/internal/node"
)

// httpOptions are ferry serve's management API flags.
type httpOptions struct {
	addr            string
	tlsCert, tlsKey string
	insecureHTTP    bool
	progressEvery   time.Duration
}

func httpFlags(f *pflag.FlagSet, o *httpOptions) {
	f.StringVar(&o.addr, "http", "", "management API listen address: JSON API, /metrics (off unless given; needs a token: ferry token create)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve the management API over HTTPS with this certificate (PEM; with --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	f.BoolVar(&o.insecureHTTP, "insecure-http", false, "allow plain HTTP on an address that is not loopback (tokens cross the network in the clear)")
	f.DurationVar(&o.progressEvery, "progress-every", time.Second, "how often jobs started over the API or the console report their progress (event streams, the console's dashboard)")
}

// serveHTTP is the node's HTTP part of ferry serve: the address, the
// handler over the catalog (opened here, closed by the returned func)
// and the TLS settings. Without --http it is all off.
func serveHTTP(ctx context.Context, g *globalOptions, state string, o httpOptions, logger *slog.Logger, sched *dma.Scheduler) (node.Config, func(), error) {
	var cfg node.Config
	if o.addr == "" {
		if o.tlsCert != "" || o.tlsKey != "" || o.insecureHTTP {
			return cfg, nil, fmt.Errorf("--tls-cert, --tls-key and --insecure-http need --http")
		}
		return cfg, func() {}, nil
	}
	if o.progressEvery < 10*time.Millisecond {
		return cfg, nil, fmt.Errorf("--progress-every %v: give 10ms or more", o.progressEvery)
	}
	cat, err := openCatalog(ctx, g, state) // as every command: jobs whose process is gone reconciled
	if err != nil {
		return cfg, nil, err
	}
	layout := node.Layout{Root: state}
	cfg.HTTPAddr = o.addr
	cfg.HTTPS = node.HTTPSecurity{CertFile: o.tlsCert, KeyFile: o.tlsKey, Insecure: o.insecureHTTP}
	cfg.HTTP = func(n *node.Node) http.Handler {
		return httpapi.New(httpapi.Config{Layout: layout, Catalog: cat, Library: n.Library(), Target: n.ISCSI(), Stats: n.Stats(),
			Tokens: token.NewVerifier(layout.Tokens()), Logger: logger,
			Manager: dma.NewManager(cat, managerConfig(g, state)), Exports: n.Exports(), Scheduler: sched,
			ProgressEvery: o.progressEvery})
	}
	return cfg, func() { cat.Close() }, nil
}

// printHTTPBanner tells where the management API is.
func printHTTPBanner(n *node.Node, o httpOptions) {
	a := n.HTTPAddr()
	if a == nil {
		return
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(os.Stderr, "ferry: management API on %s://%s\n", scheme, a)
}
