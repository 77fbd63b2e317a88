package sim

import (
	"github.com/pagedkv/pagedkv/cluster"
)

// Selectors of ClusterConfig.Selector: how the prefix-aware and load routers weigh
// a cached prefix against load.
const (
	// SelectorCost is the cluster package's cost (Dynamo's form): prefill blocks
	// still to compute plus the blocks the engine will hold, lowest wins.
	SelectorCost = "cost"
	// SelectorLLMD is llm-d's endpoint picker as its 37-capacity benchmark
	// configured it: weighted scorers in [0, 1], highest total wins — the prefix
	// scorer ×2 (precise and approximate only), the KV-cache utilisation scorer ×1
	// and the active-request scorer ×1 (see llmdSelector).
	SelectorLLMD = "llm-d"
)

// SelectorNames returns the selectors: cost, llm-d.
func SelectorNames() []string { return []string{SelectorCost, SelectorLLMD} }

// llmdSelector scores each engine as llm-d's scheduler plugins do and picks the
// highest weighted sum:
//   - prefix-cache scorer (weight 2): precise (cache-tracking) mode scores the
//     engines that hold the prompt's first block by min-max normalising their
//     cached prefix lengths (all equal: 1), the others 0; the approximate scorer
//     scores the predicted prefix as a fraction of the prompt's blocks;
//   - KV-cache utilisation scorer (weight 1): 1 − the engine's KV usage (blocks
//     referenced by running requests over all blocks: vLLM's kv_cache_usage_perc),
//     read here at the moment of routing rather than scraped every few seconds;
//   - active-request scorer (weight 1): (max − n) / max over the engines'
//     outstanding requests n (1 when n is 0).
//
// llm-d's max-score picker breaks ties at random; here ties go to the request's
// tie order (cluster.Request.TieBreak), so runs repeat.
type llmdSelector struct {
	prefixW float64
	ratio   bool                             // approximate prefix scorer (fraction of the prompt)
	usage   func(e cluster.EngineID) float64 // engine e's KV usage in [0, 1]
}

func newLLMDSelector(router string, usage func(cluster.EngineID) float64) *llmdSelector {
	s := &llmdSelector{usage: usage}
	switch cluster.PolicyKind(router) {
	case cluster.PolicyPrecise:
		s.prefixW = 2
	case cluster.PolicyApproximate:
		s.prefixW, s.ratio = 2, true
	}
	return s
}

// Select implements cluster.Selector.
func (s *llmdSelector) Select(req *cluster.Request, cands []cluster.Candidate) int {
	lo, hi, held := 0, 0, false
	maxActive := 0
	for i := range cands {
		cd := &cands[i]
		maxActive = max(maxActive, cd.ActiveRequests)
		if cd.HitBlocks > 0 {
			if !held {
				lo, hi, held = cd.HitBlocks, cd.HitBlocks, true
			}
			lo, hi = min(lo, cd.HitBlocks), max(hi, cd.HitBlocks)
		}
	}
	n := len(cands)
	best, bestScore := -1, 0.0
	for i := range cands {
		cd := &cands[i]
		prefix := 0.0
		switch {
		case s.ratio && req.PromptBlocks > 0:
			prefix = min(1, float64(cd.HitBlocks)/req.PromptBlocks)
		case !s.ratio && cd.HitBlocks > 0 && hi == lo:
			prefix = 1
		case !s.ratio && cd.HitBlocks > 0:
			prefix = float64(cd.HitBlocks-lo) / float64(hi-lo)
		}
		active := 1.0
		if cd.ActiveRequests > 0 {
			active = float64(maxActive-cd.ActiveRequests) / float64(maxActive)
		}
		score := s.prefixW*prefix + (1 - s.usage(cd.Engine)) + active
		cd.Cost = -score
		if best < 0 || score > bestScore || score == bestScore && tieBefore(req, i, best, n) {
			best, bestScore = i, score
		}
	}
	return best
}

// tieBefore reports whether engine i comes before engine j in the request's tie
// order: engines rotated by the request's TieBreak.
func tieBefore(req *cluster.Request, i, j, n int) bool {
	r := int(req.TieBreak % uint64(n))
	return (i-r+n)%n < (j-r+n)%n
}
