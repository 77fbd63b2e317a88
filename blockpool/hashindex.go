package blockpool

import "slices"

// Key identifies the content of one full block for caching and lookup.
type Key struct {
	// Hash is the chained content hash (package prefix).
	Hash uint64
	// Parent is the identity of the block holding the previous block of the prefix
	// (see Cache), or 0 for a sequence's first block.
	Parent uint64
	// Tokens are the block's token ids; len must equal the pool's BlockSize.
	Tokens []int32
	// Extra is a fingerprint of the block's extra keys (adapter, salt, multimodal).
	Extra uint64
	// Group is the KV-cache group the block belongs to (a hybrid model keeps one
	// block table per group of same-kind layers; package paged). Blocks of different
	// groups never match each other, whatever their other fields. Default 0.
	Group uint32
}

// indexKey is the key the index files a block under: its hash, mixed with its group
// so that the same content in several groups lands on different dup lists (group 0,
// the only group of a plain model, is filed under the hash itself).
func indexKey(hash uint64, group uint32) uint64 {
	if group == 0 {
		return hash
	}
	return hash ^ (uint64(group)*0x9E37_79B9_7F4A_7C15 | 1)
}

// hashIndex maps a hash to the oldest cached block carrying it; blocks with equal
// hashes form a circular list through dupPrev/dupNext in insertion order. Each cached
// block's confirmation data (parent identity, extra, group) and identity live in its
// record, its tokens in a side table. With the child index, each cached block is also on the circular list
// of the blocks that share its (parent identity, first token), in insertion order.
type hashIndex struct {
	blocks    []blockMeta
	head      hashTable // hash → oldest block carrying it
	blockSize int
	tokens    []int32 // tokens[id*blockSize:(id+1)*blockSize] of cached block id
	count     int     // number of cached blocks

	// child index (nil without IndexChildren)
	kids             *hashTable // childKey(parent, first token) → oldest block
	kidPrev, kidNext []BlockID
}

func (x *hashIndex) init(blocks []blockMeta, numBlocks, blockSize int, children bool) {
	x.blocks = blocks
	x.head = newHashTable(numBlocks)
	x.blockSize = blockSize
	x.tokens = make([]int32, numBlocks*blockSize)
	if children {
		t := newHashTable(numBlocks)
		x.kids = &t
		x.kidPrev = make([]BlockID, numBlocks)
		x.kidNext = make([]BlockID, numBlocks)
	}
}

// childKey is the child-index key of a block with parent identity parent whose first
// token is tok. Different pairs may share a key; candidates are confirmed.
func childKey(parent uint64, tok int32) uint64 {
	return (parent^0x51AF_D7ED_558C_CD2B)*0x9E37_79B9_7F4A_7C15 ^ uint64(uint32(tok))
}

func (x *hashIndex) blockTokens(id BlockID) []int32 {
	return x.tokens[int(id)*x.blockSize : int(id+1)*x.blockSize]
}

// insert caches block id under k with identity ident; the block must not be cached.
func (x *hashIndex) insert(id BlockID, k *Key, ident uint64) (first bool) {
	b := &x.blocks[id]
	b.hash = k.Hash
	copy(x.tokens[int(id)*x.blockSize:], k.Tokens)
	b.parent, b.extra, b.ident, b.group = k.Parent, k.Extra, ident, k.Group
	x.count++
	if x.kids != nil {
		x.link(x.kids, x.kidPrev, x.kidNext, childKey(k.Parent, k.Tokens[0]), id)
	}
	ik := indexKey(k.Hash, k.Group)
	i, ok := x.head.find(ik)
	if !ok {
		b.dupPrev, b.dupNext = id, id
		x.head.fill(i, ik, id)
		return true
	}
	h := x.head.slots[i].val
	first = !x.groupIn(h, NoBlock, k.Group)
	hb := &x.blocks[h]
	tail := hb.dupPrev
	b.dupPrev, b.dupNext = tail, h
	x.blocks[tail].dupNext = id
	hb.dupPrev = id
	return first
}

// groupIn reports whether the dup list starting at h holds a block of group g other
// than skip. Index keys of different groups collide only by chance, so the first
// block is almost always of the same group.
func (x *hashIndex) groupIn(h, skip BlockID, g uint32) bool {
	for id := h; ; {
		if id != skip && x.blocks[id].group == g {
			return true
		}
		if id = x.blocks[id].dupNext; id == h {
			return false
		}
	}
}

// link appends id to the circular list t maps key to (prev/next are its links).
func (x *hashIndex) link(t *hashTable, prev, next []BlockID, key uint64, id BlockID) {
	i, ok := t.find(key)
	if !ok {
		prev[id], next[id] = id, id
		t.fill(i, key, id)
		return
	}
	h := t.slots[i].val
	tail := prev[h]
	prev[id], next[id] = tail, h
	next[tail] = id
	prev[h] = id
}

// unlink removes id from the circular list t maps key to.
func (x *hashIndex) unlink(t *hashTable, prev, next []BlockID, key uint64, id BlockID) {
	i, _ := t.find(key) // present: id is listed under key
	if next[id] == id {
		t.delAt(i)
	} else {
		next[prev[id]] = next[id]
		prev[next[id]] = prev[id]
		if s := &t.slots[i]; s.val == id {
			s.val = next[id]
		}
	}
	prev[id], next[id] = NoBlock, NoBlock
}

// remove uncaches block id (which must be cached); last reports whether no other block
// of its group carries its hash any more.
func (x *hashIndex) remove(id BlockID) (hash uint64, last bool) {
	b := &x.blocks[id]
	hash = b.hash
	ik := indexKey(hash, b.group)
	if x.kids != nil {
		x.unlink(x.kids, x.kidPrev, x.kidNext, childKey(b.parent, x.tokens[int(id)*x.blockSize]), id)
	}
	i, _ := x.head.find(ik) // present: id is cached under ik
	if b.dupNext == id {
		x.head.delAt(i)
		last = true
	} else {
		last = !x.groupIn(id, id, b.group)
		x.blocks[b.dupPrev].dupNext = b.dupNext
		x.blocks[b.dupNext].dupPrev = b.dupPrev
		if s := &x.head.slots[i]; s.val == id {
			s.val = b.dupNext
		}
	}
	b.dupPrev, b.dupNext = NoBlock, NoBlock
	b.hash, b.ident = 0, 0
	x.count--
	return hash, last
}

// lookup returns the oldest cached block whose hash, group, tokens, extra fingerprint
// and parent identity all match k. (A dup list holds one index key; for one group
// the index key determines the hash, so equal groups mean equal hashes.)
func (x *hashIndex) lookup(k *Key) (BlockID, bool) {
	h, ok := x.head.get(indexKey(k.Hash, k.Group))
	if !ok {
		return NoBlock, false
	}
	for id := h; ; {
		c := &x.blocks[id]
		if c.parent == k.Parent && c.extra == k.Extra && c.group == k.Group && slices.Equal(x.blockTokens(id), k.Tokens) {
			return id, true
		}
		if id = c.dupNext; id == h {
			return NoBlock, false
		}
	}
}

// partial returns the cached block with parent identity parent and extra fingerprint
// extra whose leading tokens match the most leading tokens of tokens (at least one),
// scanning at most maxScan candidates; the oldest wins a tie.
func (x *hashIndex) partial(parent, extra uint64, tokens []int32, maxScan int) (BlockID, int) {
	best, bestK := NoBlock, 0
	if x.kids == nil || len(tokens) == 0 {
		return best, 0
	}
	h, ok := x.kids.get(childKey(parent, tokens[0]))
	if !ok {
		return best, 0
	}
	for id, scanned := h, 0; scanned < maxScan; scanned++ {
		if c := &x.blocks[id]; c.parent == parent && c.extra == extra && c.group == 0 {
			bt := x.blockTokens(id)
			k := 0
			for k < len(tokens) && bt[k] == tokens[k] {
				k++
			}
			if k > bestK {
				best, bestK = id, k
			}
		}
		if id = x.kidNext[id]; id == h {
			break
		}
	}
	return best, bestK
}

// clear uncaches every block.
func (x *hashIndex) clear() {
	x.head.each(func(_ uint64, h BlockID) {
		for id := h; ; {
			next := x.blocks[id].dupNext
			b := &x.blocks[id]
			b.dupPrev, b.dupNext, b.hash, b.ident = NoBlock, NoBlock, 0, 0
			if x.kids != nil {
				x.kidPrev[id], x.kidNext[id] = NoBlock, NoBlock
			}
			if next == h {
				break
			}
			id = next
		}
	})
	x.head.reset()
	if x.kids != nil {
		x.kids.reset()
	}
	x.count = 0
}
