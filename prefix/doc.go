// Package prefix computes the chained block hashes that make prefix caching work:
// pagedkv's own, and vLLM's, byte for byte.
//
// A sequence's tokens are cut into blocks of BlockSize tokens. Only full blocks are
// hashed. The hash of block i covers, in this order:
//
//   - the hash of block i-1 (or the scheme's root hash for block 0, derived from Seed),
//   - the block's token ids,
//   - the block's extra keys: the adapter (LoRA) name, every multimodal item that
//     overlaps the block with its offset relative to the block start, the cache
//     salt (block 0 only, so tenants with different salts never share anything), and
//     the digest of the block's prompt-embedding rows when the prompt came as
//     embeddings.
//
// Because each hash covers its parent, equal hashes at block i mean the whole prefix
// up to block i is equal (up to hash collisions, which the block pool confirms away:
// see blockpool.Key). Hashing is incremental: Chain.Extend hashes only blocks that
// became full since the last call, and allocates nothing once the chain's buffers
// have grown.
//
// # Two families of hashers
//
// pagedkv's own Hashers (XXH3, the default, and XXHash) hash a documented canonical
// encoding (see encodeBlock) into a 64-bit Hash; they are fast and meant for a
// cache that only has to agree with itself. XXH3 hashes a block without extra keys
// straight from its token ids, seeded with the parent's hash (see XXH3), which
// makes a prompt lookup's hashing about three times cheaper than XXHash's.
//
// A VLLM hasher instead reproduces what a vLLM engine computes: SHA-256 or XXH3-128
// of vLLM's CBOR (or pickle) serialization of (parent digest, tokens, extra keys),
// chaining the full 32- or 16-byte digests. Use it to route against, index, or
// publish events for real vLLM fleets: Chain.Hash(i) is then exactly the 64-bit
// block id in vLLM's KV events, and Chain.AppendDigest the digest vLLM chains. The
// golden vectors in shared/reference/vllm-compat (made with vLLM's own functions)
// are tests of this package. Nothing else changes: a paged.Manager whose
// Config.Hasher is a VLLM hashes as vLLM does.
//
// Worked example, block size 4, prompt of 10 tokens:
//
//	s, _ := prefix.New(prefix.Config{BlockSize: 4})
//	c := s.NewChain(prefix.Extras{})
//	c.Extend([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) // hashes blocks 0 and 1; tokens 9,10 wait
//	c.Len()                                          // 2
//	c.Extend([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) // hashes block 2 only
//
// The same with vLLM's hashing, as an engine started with PYTHONHASHSEED=0 and
// --prefix-caching-hash-algo sha256_cbor computes it:
//
//	s, _ := prefix.New(prefix.Config{BlockSize: 16, Hasher: prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"}})
//	c := s.NewChain(prefix.Extras{Adapter: "sql-adapter"})
//	c.Extend(prompt)
//	c.Hash(0)                 // the block_hashes[0] of vLLM's BlockStored event
//	c.AppendDigest(nil, 0)    // the 32-byte digest
package prefix
