//go:build !unix

package bench

import "time"

// processCPU is unavailable here: CPU-time metrics are left out.
func processCPU() time.Duration { return 0 }
