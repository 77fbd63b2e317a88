package paged

import "github.com/pagedkv/pagedkv/blockpool"

// The truth: every (block hash, KV contents) pair the engine ever computed; a cached
// block of either tier must hold one.

// blockDigest fingerprints a block's hash and KV contents.
func blockDigest(hash uint64, kv []uint64) uint64 {
	h := hash*0x9E3779B97F4A7C15 | 1
	for _, v := range kv {
		h = (h ^ v) * 1099511628211
	}
	return h
}

// recordTruth records the contents of the full blocks of s that positions [from, to)
// complete, in every group, as the engine computes them (fps holds positions [0, to)).
func (f *fuzzer) recordTruth(s *modelSeq, from, to int, fps []uint64) {
	var buf [64]uint64
	for j := from / f.bs; j < min(to, len(s.tokens))/f.bs; j++ {
		h := f.m.chainHash(s.id, j)
		for g := range f.groups {
			kv := append(buf[:0], fps[j*f.bs:(j+1)*f.bs]...)
			for i := range kv {
				kv[i] ^= gmix(g)
			}
			f.truth[blockDigest(truthHash(h, g), kv)] = true
		}
	}
}

// checkTruth verifies that every cached block of both tiers holds KV the engine
// computed for its hash in its group (host copies' hashes are true; onloads and
// offloads moved the right contents).
func (f *fuzzer) checkTruth() {
	m := f.m
	for tier, pool := range map[string]*blockpool.Pool{"device": m.pool, "host": m.host} {
		if pool == nil {
			continue
		}
		store := f.kv
		if tier == "host" {
			store = f.host
		}
		for id := range int32(pool.NumBlocks()) {
			k, _, ok := pool.CachedKey(id)
			if ok && !f.truth[blockDigest(truthHash(k.Hash, int(k.Group)), store[int(id)*f.bs:int(id+1)*f.bs])] {
				f.fatalf("%s block %d is cached under %x (group %d) but holds KV never computed for it", tier, id, k.Hash, k.Group)
			}
		}
	}
}
