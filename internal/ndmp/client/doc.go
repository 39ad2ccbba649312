// Package client is the DMA side of an NDMP v4/v3 control connection: Dial
// negotiates the protocol version and authenticates, Call sends one request
// and waits for its reply under a per-request timeout, and posts from the
// agent (NOTIFY_*, LOG_*, FH_*) are handed to a handler the job supplies,
// concurrently with requests.
//
// One reader goroutine owns the socket's read side. Replies are matched to
// waiting calls by reply sequence and never wait behind posts; posts go to a
// FIFO that one delivery goroutine drains into the handler, in arrival
// order. When the FIFO holds Options.PostQueue posts and no call is waiting
// for a reply, the reader stops reading the socket, so a slow consumer
// pushes back on the agent through TCP; as soon as a call is outstanding
// the reader reads on (queueing posts past the limit) until its reply
// arrives. A handler may therefore make calls of its own without deadlock.
// docs/ndmp-client.md describes the connection's life and these rules.
package client
