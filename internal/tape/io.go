package tape

// writeRest finishes a frame write that the kernel cut short after done
// bytes, with plain positioned writes.
func (m *Medium) writeRest(off int64, done int, bufs ...[]byte) error {
	for _, b := range bufs {
		if done >= len(b) {
			done -= len(b)
			off += int64(len(b))
			continue
		}
		n, err := m.f.WriteAt(b[done:], off+int64(done))
		if err != nil {
			return err
		}
		off += int64(done + n)
		done = 0
	}
	return nil
}
