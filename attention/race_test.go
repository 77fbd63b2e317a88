//go:build race

package attention

// raceEnabled: the race detector slows the portable kernels ~10×; the longest
// cross-path test runs fewer trials under it.
const raceEnabled = true
