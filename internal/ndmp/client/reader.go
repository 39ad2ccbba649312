package client

import (
	"errors"
	"fmt"
	"io"
	"net"

	"ferry/internal/ndmp/wire"
)

// readLoop owns the socket's read side: replies go to their callers at
// once, posts to the delivery FIFO. It pauses only while the FIFO is full
// and no call waits for a reply.
func (c *Conn) readLoop(rr *wire.RecordReader) {
	err := c.readRecords(rr)
	c.mu.Lock()
	if c.closing || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	}
	c.rerr = err
	for seq, ch := range c.pending {
		ch <- reply{err: c.closedErr()}
		delete(c.pending, seq)
	}
	c.waiting = 0
	c.cond.Broadcast()
	c.mu.Unlock()
	close(c.readerDone)
}

func (c *Conn) readRecords(rr *wire.RecordReader) error {
	for {
		if !c.waitRoom() {
			return ErrClosed
		}
		rec, err := rr.Next()
		var tl *wire.TooLargeError
		if errors.As(err, &tl) {
			c.tooLarge(tl)
			continue
		}
		if err != nil {
			return err
		}
		h, rest, err := wire.DecodeHeader(rec)
		if err != nil {
			continue // spec §2.6: a record too short for a header is discarded
		}
		if h.Type == wire.Reply {
			c.dispatch(h, append([]byte(nil), rest...), nil)
			continue
		}
		c.enqueue(c.decodePost(h, rest))
	}
}

// waitRoom blocks while the post FIFO is full and nobody waits for a
// reply; it reports false once the connection is closing.
func (c *Conn) waitRoom() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.posts) >= c.opts.PostQueue && c.waiting == 0 && !c.closing {
		c.cond.Wait()
	}
	return !c.closing
}

// tooLarge fails the call whose reply did not fit the record limit.
func (c *Conn) tooLarge(tl *wire.TooLargeError) {
	h, _, err := wire.DecodeHeader(tl.Head)
	if err != nil || h.Type != wire.Reply {
		return
	}
	c.dispatch(h, nil, fmt.Errorf("%w: reply to %v is %d bytes, over the %d-byte limit", ErrProtocol, h.Code, tl.Size, tl.Max))
}

// dispatch hands a reply to the call waiting for it; a reply nobody
// waits for (its call timed out) is dropped.
func (c *Conn) dispatch(h wire.Header, body []byte, err error) {
	c.mu.Lock()
	ch, ok := c.pending[h.ReplySequence]
	if ok {
		delete(c.pending, h.ReplySequence)
		c.waiting--
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	if ok {
		ch <- reply{h: h, body: body, err: err}
	}
}

// decodePost decodes a post's body in the agreed version. Strings are
// copies, so the body does not alias the reader's buffer; posts carry no
// opaques.
func (c *Conn) decodePost(h wire.Header, rest []byte) Post {
	if !h.Code.IsPost() {
		return Post{Header: h, Err: fmt.Errorf("%w: agent sent request %v", ErrProtocol, h.Code)}
	}
	v := c.Version()
	if h.Code == wire.CodeNotifyConnectionStatus {
		v = wire.V4 // frozen layout
	}
	body, err := wire.DecodeBody(h.Code, h.Type, v, rest)
	if err != nil {
		return Post{Header: h, Err: fmt.Errorf("%w: %v: %v", ErrProtocol, h.Code, err)}
	}
	return Post{Header: h, Body: body}
}

func (c *Conn) enqueue(p Post) {
	c.mu.Lock()
	c.posts = append(c.posts, p)
	c.cond.Broadcast()
	c.mu.Unlock()
}

// deliverLoop hands posts to the handler one at a time, in order, until
// the reader has stopped and the FIFO is empty.
func (c *Conn) deliverLoop() {
	defer close(c.deliverDone)
	for {
		p, ok := c.nextPost()
		if !ok {
			return
		}
		if c.opts.Posts != nil {
			c.opts.Posts(p)
		}
	}
}

func (c *Conn) nextPost() (Post, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.posts) == 0 && c.rerr == nil {
		c.cond.Wait()
	}
	if len(c.posts) == 0 {
		return Post{}, false
	}
	p := c.posts[0]
	c.posts[0] = Post{}
	c.posts = c.posts[1:]
	if len(c.posts) == 0 {
		c.posts = nil // let the backing array go
	}
	c.cond.Broadcast()
	return p, true
}
