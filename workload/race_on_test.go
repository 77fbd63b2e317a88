//go:build race

package workload

// raceOn shortens the tests' workloads under the race detector, where generation and
// parsing run tens of times slower; the full statistics are checked without -race.
const raceOn = true
