// Package prefix computes the chained block hashes that make prefix caching work.
//
// A sequence's tokens are cut into blocks of BlockSize tokens. Only full blocks are
// hashed. The hash of block i covers, in this order:
//
//   - the hash of block i-1 (or the scheme's root hash for block 0, derived from Seed),
//   - the block's token ids,
//   - the block's extra keys: the adapter (LoRA) name, every multimodal item that
//     overlaps the block with its offset relative to the block start, and the cache
//     salt (block 0 only, so tenants with different salts never share anything).
//
// Because each hash covers its parent, equal hashes at block i mean the whole prefix
// up to block i is equal (up to hash collisions, which the block pool confirms away:
// see blockpool.Key). Hashing is incremental: Chain.Extend hashes only blocks that
// became full since the last call.
//
// The bytes fed to the Hasher are a documented canonical encoding (see encodeBlock),
// so any Hasher (xxhash by default, or a cryptographic one for multi-tenant
// deployments) sees the same input.
//
// Worked example, block size 4, prompt of 10 tokens:
//
//	s, _ := prefix.New(prefix.Config{BlockSize: 4})
//	c := s.NewChain(prefix.Extras{})
//	c.Extend([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) // hashes blocks 0 and 1; tokens 9,10 wait
//	c.Len()                                          // 2
//	c.Extend([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) // hashes block 2 only
package prefix
