// Command ndmpsetup measures NDMP session set-up on one or more agents: the
// time from dialing to the reply of CONNECT_OPEN (dial, the server's
// NOTIFY_CONNECTION_STATUS, CONNECT_OPEN and its reply), repeated -n times.
// With several agents it prints each one's median and p99 and the ratio of
// every agent's median to the first's.
//
//	go run ./bench/ndmpsetup -n 500 ferry=127.0.0.1:10000 ndmjob=127.0.0.1:10001
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"ferry/internal/ndmp/wire"
)

func main() {
	n := flag.Int("n", 300, "sessions per agent")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: ndmpsetup [-n N] NAME=HOST:PORT...")
		os.Exit(2)
	}
	var first time.Duration
	for i, arg := range flag.Args() {
		name, addr, ok := strings.Cut(arg, "=")
		if !ok {
			name, addr = arg, arg
		}
		times, err := measure(addr, *n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ndmpsetup: %s: %v\n", name, err)
			os.Exit(1)
		}
		slices.Sort(times)
		med, p99 := times[len(times)/2], times[len(times)*99/100]
		if i == 0 {
			first = med
		}
		fmt.Printf("%-8s session setup  median %8.1f µs  p99 %8.1f µs  ratio to %s %.2f\n",
			name, us(med), us(p99), strings.Split(flag.Arg(0), "=")[0], float64(med)/float64(first))
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func measure(addr string, n int) ([]time.Duration, error) {
	times := make([]time.Duration, 0, n)
	for range n {
		d, err := setup(addr)
		if err != nil {
			return nil, err
		}
		times = append(times, d)
	}
	return times, nil
}

// setup runs one session up to the CONNECT_OPEN reply and closes it politely.
func setup(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rr := wire.NewRecordReader(c, 1<<20)
	if _, err := rr.Next(); err != nil { // NOTIFY_CONNECTION_STATUS
		return 0, fmt.Errorf("greeting: %w", err)
	}
	h := wire.Header{Sequence: 1, Timestamp: uint32(time.Now().Unix()), Code: wire.CodeConnectOpen}
	msg := wire.AppendMessage(nil, h, &wire.ConnectOpenRequest{ProtocolVersion: 4}, wire.V4)
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	rec, err := rr.Next()
	if err != nil {
		return 0, fmt.Errorf("CONNECT_OPEN reply: %w", err)
	}
	elapsed := time.Since(start)
	rh, body, err := wire.DecodeHeader(rec)
	if err != nil {
		return 0, err
	}
	if rh.Error != wire.ErrNone {
		return 0, fmt.Errorf("CONNECT_OPEN: header error %v", rh.Error)
	}
	reply, err := wire.DecodeBody(rh.Code, rh.Type, wire.V4, body)
	if err != nil {
		return 0, fmt.Errorf("CONNECT_OPEN reply: %w", err)
	}
	if r, ok := reply.(*wire.ErrorReply); !ok || r.Error != wire.ErrNone {
		return 0, fmt.Errorf("CONNECT_OPEN refused: %v", reply)
	}
	h = wire.Header{Sequence: 2, Timestamp: uint32(time.Now().Unix()), Code: wire.CodeConnectClose}
	c.Write(wire.AppendMessage(nil, h, nil, wire.V4))
	return elapsed, nil
}
