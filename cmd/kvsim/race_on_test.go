//go:build race

package main

// raceOn shortens the simulated horizons under the race detector; the full default
// experiment runs without -race.
const raceOn = true
