package paged_test

import (
	"testing"

	"github.com/pagedkv/pagedkv/bench"
)

// BenchmarkDecodeStep256 is one decode step of 256 running sequences (see
// bench.ManagerDecodeStep); decodestep-ns/op is DecodeStep alone.
func BenchmarkDecodeStep256(b *testing.B) { bench.ManagerDecodeStep(256)(b) }

// BenchmarkDecodeStep1024 is the same with 1,024 sequences.
func BenchmarkDecodeStep1024(b *testing.B) { bench.ManagerDecodeStep(1024)(b) }

// BenchmarkBeamSearch4 is one width-4 beam-search step (see bench.BeamSearch4).
func BenchmarkBeamSearch4(b *testing.B) { bench.BeamSearch4(b) }
