//go:build unix

package cluster

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used: on a
// machine shared with other work it grows with this process's work only.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
