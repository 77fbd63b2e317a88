package attention

import (
	"fmt"
	"math/bits"
	"strings"
	"testing"
)

// The assembly wrappers are the last line before code that reads and writes raw
// memory: every shape they cannot serve exactly must panic with their bounds
// message, never reach the kernels. Each slice here is a short window of a larger
// allocation, so a wrapper that let a shape through would read or write past the
// window without faulting — and the test would see no panic.
func TestAsmWrappersRefuseBadShapes(t *testing.T) {
	requireAVX2(t)
	f32 := func(n int) []float32 { return make([]float32, 256)[:n] }
	view := func(n int) kvView { return kvView{f32: f32(n)} }
	const huge = 1 << (bits.UintSize - 2) // a multiple of 16 whose products with small counts wrap to 0
	cases := []struct {
		name string
		call func()
	}{
		{"score head dim 0", func() { asmScore(Float32, f32(1), view(1), 1, 0, f32(8), prefetch{}, 1) }},
		{"score head dim overflows 4×d and n×d", func() { asmScore(Float32, f32(1), view(1), 4, huge, f32(16), prefetch{}, 1) }},
		{"score view of another width", func() { asmScore(FP8E4M3, f32(64), view(64), 1, 16, f32(8), prefetch{}, 1) }},
		{"score short K", func() { asmScore(Float32, f32(64), view(31), 2, 16, f32(8), prefetch{}, 1) }},
		{"score short out", func() { asmScore(Float32, f32(64), view(48), 3, 16, f32(15), prefetch{}, 1) }},
		{"accum head dim 0", func() { asmAccum(Float32, f32(1), f32(4), view(1), 1, 0, prefetch{}) }},
		{"accum head dim overflows", func() { asmAccum(Float32, f32(1), f32(16), view(1), 4, huge, prefetch{}) }},
		{"accum view of another width", func() { asmAccum(Float16, f32(64), f32(4), view(16), 1, 16, prefetch{}) }},
		{"accum short weights", func() { asmAccum(Float32, f32(64), f32(7), view(32), 2, 16, prefetch{}) }},
		{"max4 odd", func() { asmMax4(f32(12), 3) }},
		{"exp4 short", func() { asmExp4(f32(7), 2, &[4]float32{}, 1) }},
		// These two would read and write far outside memory if let through.
		{"max4 count overflows 4×n", func() { asmMax4(f32(8), huge) }},
		{"exp4 count overflows 4×n", func() { asmExp4(f32(8), huge, &[4]float32{}, 1) }},
		{"score negative head dim", func() { asmScore(Float32, f32(64), view(64), 1, -16, f32(8), prefetch{}, 1) }},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				c.call()
			}()
			if msg := fmt.Sprint(got); !strings.Contains(msg, "bounds") {
				t.Fatalf("want the wrapper's bounds panic, got %v", got)
			}
		})
	}
}
