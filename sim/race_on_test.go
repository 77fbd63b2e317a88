//go:build race

package sim

// raceOn shortens the simulated horizons under the race detector, where the
// simulator runs 50–100× slower; the full reproductions run without -race.
const raceOn = true
