package dma

import "time"

// SetCancelPoll makes running jobs look for cancel requests every d, so a
// test can cancel a job that would finish within the usual interval.
func SetCancelPoll(d time.Duration) (restore func()) {
	old := cancelPoll
	cancelPoll = d
	return func() { cancelPoll = old }
}
