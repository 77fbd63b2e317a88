package blockpool

// CachedKey returns the key block id is cached under: its hash, its parent
// reference, its tokens and its extra fingerprint, and whether it is cached. The
// Tokens slice aliases the pool's copy: it is read-only and valid until the block
// is evicted, cached again or the cache is reset. A block that is not cached, or an
// out-of-range id, reports (Key{}, false). Its parent is still cached with the same
// content exactly when Ref(Parent.ID) == Parent and Hash(Parent.ID) reports cached.
func (p *Pool) CachedKey(id BlockID) (Key, bool) {
	if !p.inRange(id) || !p.blocks[id].cached() {
		return Key{}, false
	}
	x := &p.index
	lo := int(id) * x.blockSize
	return Key{
		Hash: p.blocks[id].hash, Parent: x.parent[id],
		Tokens: x.tokens[lo : lo+x.blockSize : lo+x.blockSize], Extra: x.extra[id],
	}, true
}
