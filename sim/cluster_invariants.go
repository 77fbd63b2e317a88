package sim

import (
	"fmt"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// checkInvariants verifies the fleet (tests run it every few commits through the
// engines' Config.checkEvery, and at the end):
//   - every engine's own invariants (engine, policy, paged manager);
//   - the router's load accounting;
//   - each engine's outstanding count is the requests it holds (waiting, running,
//     swapped) plus those on their way to it; together with the requests done
//     they add up to the requests routed;
//   - once synchronised, the index agrees with the managers: for the prompts of
//     the running requests, every engine's cached prefix in the index equals the
//     one its manager finds (LookupPrompt);
//   - a memory index's own structure.
func (f *fleet) checkInvariants() error {
	inTransfer := make(map[*clusterEngine]int)
	for _, d := range f.pending {
		inTransfer[d.ce]++
	}
	routed, outstanding := 0, 0
	for _, ce := range f.engines {
		e := ce.e
		if err := e.checkInvariants(); err != nil {
			return fmt.Errorf("engine %s: %w", ce.id, err)
		}
		if held := len(e.waiting) + len(e.running) + len(e.swapped) + inTransfer[ce]; held != ce.outstanding {
			return fmt.Errorf("sim: cluster: engine %s holds %d requests, outstanding %d", ce.id, held, ce.outstanding)
		}
		routed += ce.routed
		outstanding += ce.outstanding
	}
	if finished := f.done - f.rejected; routed != outstanding+finished {
		return fmt.Errorf("sim: cluster: %d routed != %d outstanding + %d done", routed, outstanding, finished)
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
// prompts (see checkInvariants).
func (f *fleet) checkIndexAgrees() error {
	f.sync()
	if f.feed.errors > 0 {
		return nil // the index missed batches (unreachable): it catches up by resync
	}
	sc, err := cluster.NewScorer(cluster.ScorerConfig{Index: f.idx, Hash: cluster.HashConfig{BlockSize: f.bs, Hasher: prefix.XXH3{}}})
	if err != nil {
		return err
	}
	var scores []cluster.PrefixScore
	for _, owner := range f.engines {
		for i, r := range owner.e.running {
			if i == 4 {
				break
			}
			if scores, err = sc.Score(f.ctx, r.Prompt, prefix.Extras{}, scores[:0]); err != nil {
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
				if got != want/f.bs*f.bs {
					return fmt.Errorf("sim: cluster: request %d: index says engine %s caches %d prompt tokens, its manager %d",
						r.ID, ce.id, got, want)
				}
			}
		}
	}
	return nil
}
