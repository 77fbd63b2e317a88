package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// checkInvariants verifies the fleet (tests run it every few commits through the
// engines' Config.checkEvery, and at the end):
//   - every idle or just committed engine's own invariants (engine, policy, paged
//     manager);
//   - the router's load accounting;
//   - each engine's outstanding count is the requests it holds (waiting, running,
//     swapped) plus those on their way to it; together with the requests done
//     and those taken from crashed engines they add up to the requests routed;
//   - the engines down are out of the router and hold and cache nothing
//     (checkMembers);
//   - once synchronised, the index agrees with the managers on the running
//     requests' prompts (checkIndexAgrees);
//   - a memory index's own structure.
func (f *fleet) checkInvariants() error {
	inTransfer := make(map[*clusterEngine]int)
	for _, d := range f.pending {
		inTransfer[d.ce]++
	}
	routed, outstanding, rerouted := 0, 0, 0
	for _, ce := range f.engines {
		e := ce.e
		if !ce.busy { // (between begin and commit its requests are scheduled)
			if err := e.checkInvariants(); err != nil {
				return fmt.Errorf("engine %s: %w", ce.id, err)
			}
		}
		if held := len(e.waiting) + len(e.running) + len(e.swapped) + inTransfer[ce]; held != ce.outstanding {
			return fmt.Errorf("sim: cluster: engine %s holds %d requests, outstanding %d", ce.id, held, ce.outstanding)
		}
		routed += ce.routed
		outstanding += ce.outstanding
		rerouted += ce.rerouted
	}
	if finished := f.done - f.rejected; routed != outstanding+finished+rerouted || rerouted != f.rerouted {
		return fmt.Errorf("sim: cluster: %d routed != %d outstanding + %d done + %d taken at outages (%d re-routed)",
			routed, outstanding, finished, rerouted, f.rerouted)
	}
	if err := f.checkMembers(); err != nil {
		return err
	}
	if err := f.router.CheckInvariants(); err != nil {
		return fmt.Errorf("sim: cluster: router: %w", err)
	}
	if f.idx == nil {
		return nil
	}
	if x, ok := f.idx.(*cluster.MemoryIndex); ok {
		if err := x.CheckInvariants(); err != nil {
			return fmt.Errorf("sim: cluster: index: %w", err)
		}
	}
	return f.checkIndexAgrees()
}

// checkIndexAgrees compares the index with the managers on the running requests'
// prompts (see checkInvariants): block by block, the index says an engine holds a
// block's hash exactly when the engine's manager caches a block with that hash; and
// an engine's cached prefix in the index is at least the one its manager finds. It
// may be longer: the index matches hashes, as vLLM does, while the manager confirms
// each hit by its parent block, so a prefix computed twice at once (two copies of a
// block) can break the manager's chain where the hashes still chain.
func (f *fleet) checkIndexAgrees() error {
	f.sync()
	if f.feedFailing {
		return nil // the index is unreachable: its updates wait in the feed
	}
	hash := cluster.HashConfig{BlockSize: f.bs, Hasher: prefix.XXH3{}}
	sc, err := cluster.NewScorer(cluster.ScorerConfig{Index: f.idx, Hash: hash})
	if err != nil {
		return err
	}
	scheme, err := prefix.New(prefix.Config{BlockSize: f.bs, Hasher: prefix.XXH3{}})
	if err != nil {
		return err
	}
	held := make([]map[uint64]bool, len(f.engines))
	var cached []paged.CachedBlock
	for i, ce := range f.engines {
		held[i] = map[uint64]bool{}
		cached = ce.pol.m.CachedBlocks(cached[:0])
		for _, b := range cached {
			held[i][uint64(b.Hash)] = true
		}
	}
	var scores []cluster.PrefixScore
	var matches []cluster.EngineMatch
	for _, owner := range f.engines {
		for i, r := range owner.e.running {
			if i == 4 {
				break
			}
			chain := scheme.NewChain(prefix.Extras{})
			chain.Extend(r.Prompt[:min(len(r.Prompt)/f.bs, 64)*f.bs])
			for j := range chain.Len() {
				h := uint64(chain.Hash(j))
				if matches, err = f.idx.Match(f.ctx, []uint64{h}, matches[:0]); errors.Is(err, cluster.ErrUnavailable) {
					return nil
				} else if err != nil {
					return err
				}
				for k, ce := range f.engines {
					inIndex := slices.ContainsFunc(matches, func(m cluster.EngineMatch) bool { return m.Engine == ce.id })
					if inIndex != held[k][h] {
						return fmt.Errorf("sim: cluster: request %d block %d: index says engine %s holds it: %v, its manager: %v",
							r.ID, j, ce.id, inIndex, held[k][h])
					}
				}
			}
			if scores, err = sc.Score(f.ctx, r.Prompt, prefix.Extras{}, scores[:0]); errors.Is(err, cluster.ErrUnavailable) {
				return nil
			} else if err != nil {
				return err
			}
			for _, ce := range f.engines {
				want, err := ce.pol.m.LookupPrompt(r.Prompt, paged.SeqOptions{})
				if err != nil {
					return err
				}
				got := 0
				for _, s := range scores {
					if s.Engine == ce.id {
						got = s.Blocks * f.bs
					}
				}
				if got < want {
					return fmt.Errorf("sim: cluster: request %d: index says engine %s caches %d prompt tokens, its manager %d",
						r.ID, ce.id, got, want)
				}
			}
		}
	}
	return nil
}
