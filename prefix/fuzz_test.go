package prefix

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzChain drives a chain of every scheme through random Extend (by random steps),
// Truncate and CopyFrom calls and requires, after each, the invariants; at the end,
// the hashes of a chain built in one call over the same tokens. (With multimodal
// items vLLM's hashes depend on the call pattern by design, see VLLM, so that last
// comparison is made for pagedkv's own hashers only.)
func FuzzChain(f *testing.F) {
	f.Add([]byte{3, 10, 200, 7, 1, 90, 4}, uint8(4), uint8(1))
	f.Add([]byte{0, 0, 255, 255, 16, 1, 2, 3}, uint8(1), uint8(0))
	f.Add([]byte{50, 130, 9, 9, 9, 250, 1}, uint8(16), uint8(2))
	f.Fuzz(func(t *testing.T, ops []byte, bs uint8, extras uint8) {
		if bs == 0 || len(ops) > 64 {
			return
		}
		var ex Extras
		if extras%3 > 0 {
			ex = richExtras()
		}
		if extras%3 == 1 {
			ex.MM = nil
		}
		toks := promptTokens(512)
		for name, s := range allSchemes(t, int(bs)) {
			c := s.NewChain(ex)
			n := 0 // tokens the chain has seen
			for _, op := range ops {
				switch op % 4 {
				case 0, 1: // extend by a few tokens
					n = min(n+int(op>>2), len(toks))
					c.Extend(toks[:n])
				case 2: // roll back
					n -= min(n, int(op>>2))
					c.Truncate(n / int(bs))
				case 3: // replace by a copy
					var cp Chain
					cp.CopyFrom(&c)
					c = cp
				}
				require.NoError(t, c.checkInvariants(), name)
				require.LessOrEqual(t, c.Len(), n/int(bs))
			}
			c.Extend(toks[:n])
			for i := range c.Len() {
				require.Equal(t, c.ExtraFingerprint(i) != 0, len(c.AppendExtraKeys(nil, i)) > 0, "%s block %d", name, i)
			}
			if _, vllm := s.VLLM(); vllm && len(ex.MM) > 0 {
				continue
			}
			ref := s.NewChain(ex)
			ref.Extend(toks[:n])
			require.Equal(t, ref.Len(), c.Len(), name)
			for i := range ref.Len() {
				require.Equal(t, ref.Hash(i), c.Hash(i), "%s block %d", name, i)
				require.Equal(t, ref.AppendDigest(nil, i), c.AppendDigest(nil, i))
				require.Equal(t, ref.ExtraFingerprint(i), c.ExtraFingerprint(i))
			}
		}
	})
}
