// Package testio holds the I/O helpers of pagedkv's tests that watch what
// goroutines they do not own write: a buffer safe to read while others write to it,
// and a capture of the process's standard error (zmq4's default logger writes
// there).
//
//	stop := testio.CaptureStderr(t)
//	var log testio.SyncBuffer // pass &log as an io.Writer
//	...
//	require.Empty(t, stop()) // restores os.Stderr, returns what was written
package testio
