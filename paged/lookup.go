package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// PrefixHit says where the reusable prefix of a prompt lies. Tokens = Device + Host
// + Partial; Device and Host are whole blocks, Partial is less than a block.
type PrefixHit struct {
	// Tokens is the number of leading tokens that need no recomputation (never the
	// last token of the prompt).
	Tokens int
	// Device is the number of tokens in device blocks: an admission claims them as
	// they are (a free cached block is revived, no copy).
	Device int
	// Host is the number of tokens in host blocks (Config.HostCache): an admission
	// onloads each such block into a fresh device block (one HostToDevice copy).
	Host int
	// Partial is the number of tokens reused from a block that matches only in its
	// first Partial tokens (Config.PartialBlockReuse): an admission copies that block
	// into a fresh one.
	Partial int
}

// hit is one whole block of a prefix hit.
type hit struct {
	id   blockpool.BlockID
	host bool // id is a host block
}

// lookup is the result of one walk of a prompt's chain (findPrefix); it lives in
// Manager.look and is valid until the next walk.
type lookup struct {
	hits      []hit
	hostHits  int               // hits in the host tier
	revived   int               // device hits that are free (claiming them takes free blocks)
	partial   blockpool.BlockID // the partially matching block, or NoBlock
	partHost  bool              // partial is a host block
	partialK  int               // tokens reused from it (0: none)
	dropped   bool              // DropLastHitBlock removed something
	parentOut uint64            // identity after the last hit (for partial)

	// Hybrid lookups (findHybrid; hits, hostHits and the partial block stay empty):
	// the hit is nhit blocks; gids[g][j] is group g's cached block j as probed (or
	// scanMiss, scanUnknown); held counts the claimed hits other sequences hold
	// (revived the free ones).
	hyb  bool
	nhit int
	held int
	gids [][]blockpool.BlockID
}

// blocks returns the number of whole blocks the hit covers.
func (l *lookup) blocks() int {
	if l.hyb {
		return l.nhit
	}
	return len(l.hits)
}

func (l *lookup) tokens(bs int) int { return l.blocks()*bs + l.partialK }

func (l *lookup) prefixHit(bs int) PrefixHit {
	return PrefixHit{Tokens: l.tokens(bs), Device: (l.blocks() - l.hostHits) * bs, Host: l.hostHits * bs, Partial: l.partialK}
}

// dropPartial forgets the partial match.
func (l *lookup) dropPartial() { l.partial, l.partHost, l.partialK = blockpool.NoBlock, false, 0 }

// findPrefix walks the chained hashes of tokens and fills m.look with the longest
// confirmed prefix: at most maxBlocks whole blocks, each found on the device or (with
// a host cache) in the host tier, then, with PartialBlockReuse, the best partly
// matching block for the tokens that follow, reusing at most limit tokens in all.
// With DropLastHitBlock the last reused block (or the partial one) is dropped. It
// changes nothing. This is the one chain walk of an admission. With KV-cache groups
// it is findHybrid (fps are the chain's prefix fingerprints).
func (m *Manager) findPrefix(c *prefix.Chain, fps []uint64, tokens []int32, ex *prefix.Extras, maxBlocks, limit int) *lookup {
	if m.hybrid {
		return m.findHybrid(c, fps, tokens, maxBlocks)
	}
	l := &m.look
	l.hostHits, l.revived, l.dropped = 0, 0, false
	l.dropPartial()
	hits := l.hits[:0]
	if !m.caching() {
		l.hits = hits
		return l
	}
	pool, bs, tier := m.pool, m.bs, m.tier.on
	var parent uint64
	for i := range min(maxBlocks, c.Len()) {
		k := blockpool.Key{Hash: uint64(c.Hash(i)), Parent: parent, Tokens: tokens[i*bs : (i+1)*bs], Extra: c.ExtraFingerprint(i)}
		id, ident, ok := pool.LookupIdentity(k)
		host := false
		switch {
		case ok:
			if pool.RefCount(id) == 0 {
				l.revived++
			}
		case !tier:
		default:
			if id, ident, ok = m.host.LookupIdentity(k); ok {
				host = true
				l.hostHits++
			}
		}
		if !ok {
			break
		}
		hits = append(hits, hit{id: id, host: host})
		parent = ident
	}
	l.hits, l.parentOut = hits, parent
	if m.cfg.PartialBlockReuse {
		m.findPartial(l, tokens, ex, limit)
	}
	if m.cfg.DropLastHitBlock {
		switch n := len(l.hits); {
		case l.partialK > 0:
			l.dropPartial()
			l.dropped = true
		case n > 0:
			if h := l.hits[n-1]; h.host {
				l.hostHits--
			} else if pool.RefCount(h.id) == 0 {
				l.revived--
			}
			l.hits = l.hits[:n-1]
			l.dropped = true
		}
	}
	return l
}

// findPartial finds the cached block (device first, then host) that shares the
// most leading tokens with the block after the whole-block hits, under the same
// parent, reusing at most limit tokens of the prompt in all. Blocks with extra keys
// (an adapter, the salted first block, multimodal items, prompt embeddings) are never
// partly reused: their KV depends on more than the tokens.
func (m *Manager) findPartial(l *lookup, tokens []int32, ex *prefix.Extras, limit int) {
	i := len(l.hits)
	lo := i * m.bs
	hi := min(lo+m.bs, limit, len(tokens))
	if hi <= lo || blockHasExtras(ex, i, m.bs) {
		return
	}
	rest := tokens[lo:hi]
	if id, k := m.pool.Partial(l.parentOut, 0, rest, 0); k > 0 {
		l.partial, l.partHost, l.partialK = id, false, k
	}
	if m.tier.on {
		if id, k := m.host.Partial(l.parentOut, 0, rest, 0); k > l.partialK {
			l.partial, l.partHost, l.partialK = id, true, k
		}
	}
}

// blockHasExtras reports whether block i of a sequence with extra keys ex has extra
// keys of its own (those package prefix folds into its hash).
func blockHasExtras(ex *prefix.Extras, i, bs int) bool {
	if ex.Adapter != "" || len(ex.PromptEmbeds) > 0 || i == 0 && ex.CacheSalt != "" {
		return true
	}
	lo, hi := i*bs, (i+1)*bs
	for _, it := range ex.MM {
		if it.Offset < hi && it.Offset+it.Length > lo {
			return true
		}
	}
	return false
}

// maxHitBlocks caps a hit so the last token of an n-token prompt is always computed
// (its logits are needed).
func (m *Manager) maxHitBlocks(n int) int { return (n - 1) / m.bs }

// lookupSeq is the lookup an admission of s would make (never the last token).
func (m *Manager) lookupSeq(s *sequence) *lookup {
	return m.findPrefix(&s.chain, s.fps, s.tokens, &s.extras, m.maxHitBlocks(len(s.tokens)), len(s.tokens)-1)
}

// CachedPrefix reports how many leading tokens of the sequence's tokens are in the
// prefix cache now, in either tier and partial blocks included (PrefixHit.Tokens of
// CachedPrefixTiers), capped so at least the last token is computed. It has no side
// effects; use Admit to look up and claim in one step.
func (m *Manager) CachedPrefix(id SeqID) (int, error) {
	h, err := m.CachedPrefixTiers(id)
	return h.Tokens, err
}

// CachedPrefixTiers is CachedPrefix with the hit split by tier: what Admit would
// claim now (if the pool had room). It has no side effects.
func (m *Manager) CachedPrefixTiers(id SeqID) (PrefixHit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return PrefixHit{}, err
	}
	return m.lookupSeq(s).prefixHit(m.bs), nil
}

// LookupPrompt is CachedPrefix for a prompt that has not been added (a router or
// planner asking "how much of this is cached here?"): it hashes the prompt with the
// given options and reports how many leading tokens are cached. It has no side
// effects and allocates nothing in steady state. An empty prompt reports 0; bad
// options (see SeqOptions) give ErrInvalidArgument.
func (m *Manager) LookupPrompt(prompt []int32, opts SeqOptions) (int, error) {
	h, err := m.LookupPromptTiers(prompt, opts)
	return h.Tokens, err
}

// LookupPromptTiers is LookupPrompt with the hit split by tier (device blocks, host
// blocks, a partial block). It has no side effects and allocates nothing in steady
// state.
func (m *Manager) LookupPromptTiers(prompt []int32, opts SeqOptions) (PrefixHit, error) {
	if len(prompt) > MaxSeqLen {
		return PrefixHit{}, errf(ErrInvalidArgument, "prompt of %d tokens, more than MaxSeqLen", len(prompt))
	}
	if err := opts.validate(len(prompt)); err != nil {
		return PrefixHit{}, err
	}
	if len(prompt) == 0 {
		return PrefixHit{}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// A hit never spans more blocks than the tiers have (with a full-attention
	// group): hash no further.
	n := m.maxHitBlocks(len(prompt))
	if len(m.full) > 0 {
		n = min(n, m.cfg.NumBlocks+m.tier.blocks)
	}
	ex := opts.extras()
	m.tmpChain.SetExtras(m.scheme, ex)
	m.tmpChain.Extend(prompt[:n*m.bs])
	if m.ownFps {
		m.tmpFps = extendFingerprints(m.tmpFps[:0], &m.tmpChain, prompt, m.bs)
	}
	h := m.findPrefix(&m.tmpChain, m.tmpFps, prompt, &ex, n, len(prompt)-1).prefixHit(m.bs)
	m.tmpChain.SetExtras(m.scheme, prefix.Extras{}) // drop references to caller data
	return h, nil
}
