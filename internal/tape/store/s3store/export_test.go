package s3store

// Abandon drops the cartridge as a killed process would: its buffers
// are lost, its background PUTs finish, its lease is left to expire.
func (c *cartridge) Abandon() {
	c.stopUploads()
	if c.lease != nil {
		close(c.lease.stop)
		<-c.lease.done
	}
	c.bufs, c.closed = nil, true
}

// StopRenewing stops the lease's renewals, as a stalled process would.
func (c *cartridge) StopRenewing() {
	close(c.lease.stop)
	<-c.lease.done
	c.lease.stop = make(chan struct{})
	c.lease.done = make(chan struct{})
	close(c.lease.done)
}
