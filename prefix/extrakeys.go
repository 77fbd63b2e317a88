package prefix

import "crypto/sha256"

// ExtraKeyKind says what an ExtraKey is.
type ExtraKeyKind uint8

// The kinds of extra keys, in the order a block lists them.
const (
	// KeyLoRA is the LoRA adapter name (Text).
	KeyLoRA ExtraKeyKind = iota + 1
	// KeyMM is a multimodal item: its identifier (Text) and its offset relative to
	// the block start (Offset, negative when the item began in an earlier block).
	KeyMM
	// KeySalt is the cache salt (Text), on block 0 only.
	KeySalt
	// KeyEmbeds is the SHA-256 digest of the block's prompt-embedding rows (Digest).
	KeyEmbeds
)

// ExtraKey is one element of a block's extra keys: for vLLM schemes, one element of
// the extra_keys tuple vLLM hashes and reports in BlockStored events (a string, an
// (identifier, offset) pair, or bytes).
type ExtraKey struct {
	Kind   ExtraKeyKind
	Text   string
	Offset int
	Digest [sha256.Size]byte
}

// AppendExtraKeys appends block i's extra keys (i < Len()) to dst, in hashing order:
// the LoRA name, the multimodal items, the salt (block 0), the embedding digest. No
// keys means vLLM's extra_keys is None. For vLLM schemes the multimodal items are
// those vLLM's scan selected when the block was hashed, incremental quirk included.
func (c *Chain) AppendExtraKeys(dst []ExtraKey, i int) []ExtraKey {
	bs := c.s.blockSize
	lo, hi := i*bs, (i+1)*bs
	ex := &c.extras
	if ex.Adapter != "" {
		dst = append(dst, ExtraKey{Kind: KeyLoRA, Text: ex.Adapter})
	}
	if c.s.v != nil {
		if len(ex.MM) > 0 {
			var sel [8]int32
			idx, _ := selectMM(sel[:0], ex.MM, lo, hi, int(c.mmCursor[i]))
			for _, k := range idx {
				dst = append(dst, ExtraKey{Kind: KeyMM, Text: ex.MM[k].ID, Offset: ex.MM[k].Offset - lo})
			}
		}
	} else {
		for _, it := range ex.MM {
			if it.Offset >= hi {
				break
			}
			if it.Offset+it.Length > lo {
				dst = append(dst, ExtraKey{Kind: KeyMM, Text: it.ID, Offset: it.Offset - lo})
			}
		}
	}
	if i == 0 && ex.CacheSalt != "" {
		dst = append(dst, ExtraKey{Kind: KeySalt, Text: ex.CacheSalt})
	}
	if ex.hasEmbeds() {
		dst = append(dst, ExtraKey{Kind: KeyEmbeds, Digest: sha256.Sum256(ex.embedRows(lo, hi))})
	}
	return dst
}
