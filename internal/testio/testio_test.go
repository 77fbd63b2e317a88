package testio

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCaptureStderr(t *testing.T) {
	saved := os.Stderr
	stop := CaptureStderr(t)
	fmt.Fprint(os.Stderr, "to the pipe")
	require.Equal(t, "to the pipe", stop())
	require.Equal(t, saved, os.Stderr, "restored")
	require.Equal(t, "to the pipe", stop(), "a second call returns the same")
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	require.Len(t, b.String(), 400)
}
