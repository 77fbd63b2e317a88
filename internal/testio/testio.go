package testio

import (
	"bytes"
	"io"
	"os"
	"sync"
	"testing"
)

// SyncBuffer is an io.Writer that other goroutines may write while a test reads
// it. The zero value is ready.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CaptureStderr points os.Stderr at a pipe until the returned function is called
// (or the test ends); that function restores os.Stderr and returns what was
// written. Code that takes os.Stderr in between (zmq4's default logger, when a
// socket is created) writes to the pipe. Not for parallel tests.
func CaptureStderr(t testing.TB) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	var once sync.Once
	var out string
	stop := func() string {
		once.Do(func() {
			os.Stderr = saved
			_ = w.Close()
			out = <-got
			_ = r.Close()
		})
		return out
	}
	t.Cleanup(func() { stop() })
	return stop
}
