package sim

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// paperFig2 is the vLLM paper's Fig. 2 token-state share per policy (percent).
var paperFig2 = map[string]float64{PolicyOrcaMax: 20.4, PolicyOrcaPow2: 26.8, PolicyOrcaOracle: 38.2, PolicyPaged: 96.3}

func runPolicies(t *testing.T, reqs []Request, mod func(*Config)) map[string]*Result {
	t.Helper()
	out := map[string]*Result{}
	for _, p := range []string{PolicyPaged, PolicyOrcaMax, PolicyOrcaPow2, PolicyOrcaOracle} {
		cfg := DefaultConfig()
		cfg.Policy = p
		if mod != nil {
			mod(&cfg)
		}
		r, err := Run(cfg, reqs)
		require.NoError(t, err)
		require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected, p)
		sum := r.TokenStatesPct + r.ReservedPct + r.InternalFragPct + r.ExternalFragPct
		require.InDelta(t, 100, sum, 1e-6, "%s breakdown must cover the capacity", p)
		out[p] = r
	}
	return out
}

// TestReproducesPaperFig2 runs the default workload (OPT-13B, A100-40GB, ShareGPT-like,
// Poisson 2 req/s; 20 simulated minutes) and checks the vLLM paper's Fig. 2 and
// Fig. 13a claims.
func TestReproducesPaperFig2(t *testing.T) {
	reqs, err := Synthetic{Profile: Profiles["sharegpt"], Rate: 2, Requests: 2400, Seed: 1}.Generate()
	require.NoError(t, err)
	res := runPolicies(t, reqs, nil)
	for p, r := range res {
		t.Logf("%-12s token %5.1f%% (paper %4.1f) reserved %4.1f internal %4.1f external %4.1f batch %5.2f",
			p, r.TokenStatesPct, paperFig2[p], r.ReservedPct, r.InternalFragPct, r.ExternalFragPct, r.MeanBatch)
	}
	require.GreaterOrEqual(t, res[PolicyPaged].TokenStatesPct, 90.0)
	for _, p := range []string{PolicyOrcaMax, PolicyOrcaPow2, PolicyOrcaOracle} {
		require.InDelta(t, paperFig2[p], res[p].TokenStatesPct, 10, p)
		require.Zero(t, res[p].Preemptions, "contiguous policies reserve up front")
	}
	require.Less(t, res[PolicyOrcaMax].TokenStatesPct, res[PolicyOrcaPow2].TokenStatesPct)
	require.Less(t, res[PolicyOrcaPow2].TokenStatesPct, res[PolicyOrcaOracle].TokenStatesPct)
	require.Less(t, res[PolicyOrcaOracle].TokenStatesPct, res[PolicyPaged].TokenStatesPct)
	require.Zero(t, res[PolicyOrcaOracle].InternalFragPct, "the oracle never over-reserves")
	require.GreaterOrEqual(t, res[PolicyPaged].MeanBatch, 2*res[PolicyOrcaOracle].MeanBatch)
	// Orca-Max holds floor(slots/2048) requests: the paper's 7.00.
	require.InDelta(t, 7.0, res[PolicyOrcaMax].MeanBatch, 0.1)
	require.Greater(t, res[PolicyPaged].ThroughputReqS, res[PolicyOrcaOracle].ThroughputReqS)
}

// TestSharingSavings checks Fig. 15: memory saved by sharing for parallel sampling and
// beam search on the Alpaca-like profile, and the ShareGPT ranges of §6.3.
func TestSharingSavings(t *testing.T) {
	paper := map[bool][3]float64{false: {6.09, 8.53, 9.79}, true: {37.56, 53.13, 55.16}}
	for _, beam := range []bool{false, true} {
		for i, n := range []int{2, 4, 6} {
			s := Synthetic{Profile: Profiles["alpaca"], Rate: 4, Requests: 1000, Seed: 1, N: n}
			if beam {
				s.N, s.Beam = 1, n
			}
			reqs, err := s.Generate()
			require.NoError(t, err)
			r, err := Run(DefaultConfig(), reqs)
			require.NoError(t, err)
			t.Logf("alpaca beam=%v n=%d: saving %.2f%% (paper %.2f%%)", beam, n, r.SharingSavingsPct, paper[beam][i])
			tol := 2.0
			if beam {
				tol = 5
			}
			require.InDelta(t, paper[beam][i], r.SharingSavingsPct, tol)
		}
	}
	for _, c := range []struct {
		beam   bool
		lo, hi float64 // §6.3 ShareGPT ranges, widened by 5 points below / 15 above
	}{{false, 16.2 - 5, 30.5 + 15}, {true, 44.3 - 5, 66.3 + 15}} {
		for _, n := range []int{2, 6} {
			s := Synthetic{Profile: Profiles["sharegpt"], Rate: 1, Requests: 150, Seed: 3, N: n}
			if c.beam {
				s.N, s.Beam = 1, n
			}
			reqs, _ := s.Generate()
			r, err := Run(DefaultConfig(), reqs)
			require.NoError(t, err)
			t.Logf("sharegpt beam=%v n=%d: saving %.2f%%", c.beam, n, r.SharingSavingsPct)
			require.GreaterOrEqual(t, r.SharingSavingsPct, c.lo)
			require.LessOrEqual(t, r.SharingSavingsPct, c.hi)
		}
	}
}

func TestPrefixCachingSavesWork(t *testing.T) {
	s := Synthetic{Profile: Profiles["sharegpt"], Rate: 2, Requests: 400, Seed: 4, SystemPrompt: 512, SystemFraction: 0.8}
	reqs, _ := s.Generate()
	on, err := Run(DefaultConfig(), reqs)
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.PrefixCaching = false
	off, err := Run(cfg, reqs)
	require.NoError(t, err)
	require.Zero(t, off.PrefixHitRate)
	// 80% of prompts start with 512 shared tokens (32 blocks): most of them hit.
	require.Greater(t, on.PrefixHitRate, 0.5)
	require.Less(t, on.MeanTTFTS, off.MeanTTFTS)
	// Multi-turn sessions hit their earlier turns.
	mt, _ := Synthetic{Profile: Profiles["sharegpt"], Rate: 0.5, Requests: 300, Seed: 5, Turns: 3, ThinkTime: 5}.Generate()
	r, err := Run(DefaultConfig(), mt)
	require.NoError(t, err)
	require.Greater(t, r.PrefixHitRate, 0.3)
}

func TestSmallerKVAndBlockSize(t *testing.T) {
	reqs, _ := Synthetic{Profile: Profiles["sharegpt"], Rate: 2, Requests: 600, Seed: 6}.Generate()
	base, err := Run(DefaultConfig(), reqs)
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Hardware.KVBytesPerElem = 1
	q, err := Run(cfg, reqs)
	require.NoError(t, err)
	require.InDelta(t, 2*base.KVSlots, q.KVSlots, 1, "8-bit KV doubles the slots")
	require.Less(t, q.Preemptions, base.Preemptions, "twice the slots: fewer preemptions")
	require.Less(t, q.NormalizedLatencyS, base.NormalizedLatencyS)
	// Bigger blocks waste more at the tail of each sequence.
	cfg = DefaultConfig()
	cfg.BlockSize = 128
	big, err := Run(cfg, reqs)
	require.NoError(t, err)
	require.Greater(t, big.ReservedPct+big.InternalFragPct, base.ReservedPct+base.InternalFragPct)
}

func TestStaticBatchingIsWorst(t *testing.T) {
	reqs, _ := Synthetic{Profile: Profiles["sharegpt"], Rate: 2, Requests: 300, Seed: 7}.Generate()
	cfg := DefaultConfig()
	cfg.Policy = PolicyStatic
	st, err := Run(cfg, reqs)
	require.NoError(t, err)
	cfg.Policy = PolicyOrcaMax
	om, err := Run(cfg, reqs)
	require.NoError(t, err)
	require.Equal(t, 300, st.RequestsCompleted)
	require.Less(t, st.MeanBatch, om.MeanBatch)
	require.Greater(t, st.NormalizedLatencyS, om.NormalizedLatencyS)
}

func TestDeterministic(t *testing.T) {
	reqs, _ := Synthetic{Profile: Profiles["sharegpt"], Rate: 3, Requests: 300, Seed: 8, Beam: 3}.Generate()
	a, _ := Run(DefaultConfig(), reqs)
	b, _ := Run(DefaultConfig(), reqs)
	a.WallS, b.WallS = 0, 0
	require.Equal(t, a, b)
}

func TestChunkedPrefillAndPreemption(t *testing.T) {
	reqs, _ := Synthetic{Profile: Profiles["sharegpt"], Rate: 4, Requests: 400, Seed: 9}.Generate()
	cfg := DefaultConfig()
	cfg.ChunkedPrefill = true
	cfg.MaxBatchTokens = 256
	r, err := Run(cfg, reqs)
	require.NoError(t, err)
	require.Equal(t, 400, r.RequestsCompleted)
	require.Positive(t, r.Preemptions, "4 req/s overloads OPT-13B's 15.8K slots")
}

func TestConfigErrors(t *testing.T) {
	reqs, _ := Synthetic{Profile: Profiles["alpaca"], Requests: 3, Seed: 1}.Generate()
	for _, mod := range []func(*Config){
		func(c *Config) { c.Policy = "lru" },
		func(c *Config) { c.Hardware.TP = 0 },
		func(c *Config) { c.Hardware.Model = Models["llama-2-70b"] }, // 138 GB of weights on 40 GB
		func(c *Config) { c.Watermark = 2 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		_, err := Run(cfg, reqs)
		require.True(t, errors.Is(err, ErrInvalid), "%v", err)
	}
	_, err := Run(DefaultConfig(), nil)
	require.True(t, errors.Is(err, ErrInvalid))
	_, err = Synthetic{Requests: 0}.Generate()
	require.True(t, errors.Is(err, ErrInvalid))
}

func TestHardwareSizing(t *testing.T) {
	h := DefaultHardware()
	require.Equal(t, 819200.0, h.Model.KVBytesPerToken(2), "OPT-13B: 800 KiB per token")
	// Table 1 of the paper: about 15.7K slots for OPT-13B on one A100-40GB.
	require.InDelta(t, 15700, h.KVSlots(), 500)
	h.Model, h.GPU, h.TP = Models["llama-2-70b"], GPUs["a100-80"], 4
	require.Equal(t, 2*80*2*128*2.0, h.KVBytesPerTokenPerGPU(), "8 KV heads over 4 GPUs")
	require.NoError(t, h.Validate())
	// The time model is a roofline: more context costs more time.
	require.Greater(t, h.IterationTime(32, 64000), h.IterationTime(32, 1000))
}

func TestTooLongRequestsAreRejectedOrTruncated(t *testing.T) {
	reqs := []Request{
		{ID: 0, Prompt: make([]int32, 3000), OutputLen: 5, N: 1},
		{ID: 1, Arrival: 1, Prompt: make([]int32, 2000), OutputLen: 500, N: 1},
		{ID: 2, Arrival: 2, Prompt: make([]int32, 10), OutputLen: 5, N: 1},
	}
	for i := range reqs {
		for j := range reqs[i].Prompt {
			reqs[i].Prompt[j] = int32(i*10000 + j)
		}
	}
	r, err := Run(DefaultConfig(), reqs)
	require.NoError(t, err)
	require.Equal(t, 1, r.RequestsRejected)
	require.Equal(t, 1, r.RequestsTruncated)
	require.Equal(t, 2, r.RequestsCompleted)
}

// TestReplayAzureConversation replays the 58-minute Azure conversation trace with the
// paged policy (skipped when the traces are absent).
func TestReplayAzureConversation(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	reqs, err := LoadTrace(tracePath(t, "azure2023_conv.csv"), 1)
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Hardware.Model, cfg.Hardware.GPU = Models["llama-3-8b"], GPUs["a100-80"]
	r, err := Run(cfg, reqs)
	require.NoError(t, err)
	t.Logf("azure conv: %d requests, %d iterations in %.2fs wall (%.0f req/s, %.0f iter/s simulated)",
		r.RequestsCompleted, r.Iterations, r.WallS, float64(r.RequestsCompleted)/r.WallS, float64(r.Iterations)/r.WallS)
	require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected)
	require.LessOrEqual(t, r.RequestsRejected, 2, "only prompts beyond Llama-3-8B's 8K context")
}

// Swapping preempted requests to a host tier completes the same work, with the copies
// charged to the iteration time; without a host tier every preemption recomputes.
func TestSwapPreemption(t *testing.T) {
	reqs, _ := Synthetic{Profile: Profiles["sharegpt"], Rate: 2.5, Requests: 500, Seed: 3}.Generate()
	rec, err := Run(DefaultConfig(), reqs)
	require.NoError(t, err)
	require.Positive(t, rec.Preemptions)
	require.Zero(t, rec.SwapOuts)
	cfg := DefaultConfig()
	cfg.SwapSpaceGiB = 16
	sw, err := Run(cfg, reqs)
	require.NoError(t, err)
	require.Positive(t, sw.SwapOuts)
	require.Equal(t, sw.Preemptions, sw.SwapOuts, "16 GiB of host memory takes every victim")
	require.Equal(t, 500, sw.RequestsCompleted)
	require.InDelta(t, 100, sw.TokenStatesPct+sw.ReservedPct+sw.InternalFragPct+sw.ExternalFragPct, 1e-6)
	// A tiny host tier takes some victims and recomputes the rest.
	cfg.SwapSpaceGiB = 0.05
	small, err := Run(cfg, reqs)
	require.NoError(t, err)
	require.Less(t, small.SwapOuts, small.Preemptions)
	require.Equal(t, 500, small.RequestsCompleted)
	cfg.SwapSpaceGiB = -1
	_, err = Run(cfg, reqs)
	require.True(t, errors.Is(err, ErrInvalid))
}
