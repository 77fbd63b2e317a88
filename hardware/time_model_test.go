package hardware

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHostCopyTimeCountsCopiesPerLayer(t *testing.T) {
	d := Default() // OPT-13B: 40 layers, 800 KiB of KV per token
	require.Zero(t, d.HostCopyTime(0, 16))
	// One block of 16 tokens: 2 × 40 copies of 5 µs, plus 12.5 MiB over 25 GB/s.
	want := 80*5e-6 + 16*819200/25e9
	require.InDelta(t, want, d.HostCopyTime(1, 16), 1e-12)
	require.InDelta(t, 7*want, d.HostCopyTime(7, 16), 1e-12, "linear in blocks")
	// The same tokens in blocks of one: 16× the copies, the same bytes.
	require.InDelta(t, 16*80*5e-6+16*819200/25e9, d.HostCopyTime(16, 1), 1e-12)
	// Tensor parallelism: each GPU copies its share of the heads over its own link,
	// every layer still one copy for K and one for V.
	d.Model, d.TP = mustModel(t, "llama-2-70b"), 4
	require.InDelta(t, 2*80*5e-6+16*d.KVBytesPerTokenPerGPU()/25e9, d.HostCopyTime(1, 16), 1e-12)
}

// TestSwapVersusRecomputeFig19a is the vLLM paper's Fig. 19a microbenchmark on the
// time model (OPT-13B on an A100-40GB): the time to swap a token's KV out and back
// in at each block size against the time to recompute it (prefill). The paper gives
// the shape, not numbers: swapping costs a lot at small block sizes (many small
// copies), recomputation does not depend on the block size, recomputation is faster
// at small blocks and swapping at large ones.
func TestSwapVersusRecomputeFig19a(t *testing.T) {
	d := Default()
	const prompt = 1024 // recompute one 1,024-token sequence in one prefill
	recompute := d.RooflineTime(prompt, prompt) / prompt
	swap := map[int]float64{}
	prev := 0.0
	for bs := 1; bs <= 256; bs *= 2 {
		swap[bs] = 2 * d.HostCopyTime(1, bs) / float64(bs) // out and in, per token
		t.Logf("block %3d: swap out+in %6.1f µs/token, recompute %6.1f µs/token", bs, 1e6*swap[bs], 1e6*recompute)
		if bs > 1 {
			require.Less(t, swap[bs], prev, "swapping gets cheaper with larger blocks")
		}
		prev = swap[bs]
	}
	require.GreaterOrEqual(t, swap[1]/swap[256], 5.0, "small blocks swap several times slower")
	require.Greater(t, swap[1], 2*recompute, "recompute wins at block size 1")
	require.Less(t, swap[256], recompute, "swap wins at block size 256")
	require.Greater(t, swap[4], recompute, "the crossover lies between 4 and 32")
	require.Less(t, swap[32], recompute)
}
