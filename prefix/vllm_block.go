package prefix

import "crypto/sha256"

// selectMM appends to sel the indexes of the multimodal items vLLM's
// _gen_mm_extra_hash_keys puts into the block [start, end), scanning from item
// cursor (negative counts from the end: -1 is the last item), and returns the cursor
// for the next block. It follows vLLM's scan step for step, including its early
// exit when every item ends before the block, so that it selects the same items
// even for overlapping or nested ones (which the plain overlap rule would not).
func selectMM(sel []int32, items []MMItem, start, end, cursor int) ([]int32, int) {
	if len(items) == 0 {
		return sel, cursor
	}
	if last := items[len(items)-1]; last.Offset+last.Length <= start {
		return sel, cursor
	}
	if cursor < 0 {
		cursor += len(items)
	}
	for cursor < len(items) {
		it := items[cursor]
		if end <= it.Offset {
			break // the block has not reached this item
		}
		if start >= it.Offset+it.Length {
			cursor++ // the block is past this item
			continue
		}
		sel = append(sel, int32(cursor))
		if end < it.Offset+it.Length {
			break // the item goes on into the next block
		}
		cursor++
	}
	return sel, cursor
}

// numExtraKeys is the length of vLLM's extra_keys tuple for a block starting at
// token start with the selected items sel (0: extra_keys is None).
func numExtraKeys(ex *Extras, sel []int32, start int) int {
	n := len(sel)
	if ex.Adapter != "" {
		n++
	}
	if start == 0 && ex.CacheSalt != "" {
		n++
	}
	if ex.hasEmbeds() {
		n++
	}
	return n
}

// encodeBlock appends vLLM's serialization of (parent, tuple(tokens), extra_keys)
// for the block of tokens [start, start+len(tokens)) and returns it with the offset
// at which extra_keys starts. sel are the multimodal items selectMM chose.
func (s *vllmScheme) encodeBlock(buf []byte, p *pickler, parent []byte, tokens []int32, ex *Extras, sel []int32, start int) ([]byte, int) {
	nkeys := numExtraKeys(ex, sel, start)
	var embedSum [sha256.Size]byte
	if ex.hasEmbeds() {
		embedSum = sha256.Sum256(ex.embedRows(start, start+len(tokens)))
	}
	if s.pickle {
		return p.block(buf, parent, tokens, ex, sel, start, nkeys, embedSum[:])
	}
	buf = cborArray(buf, 3)
	buf = cborBytes(buf, parent)
	buf = cborInt32s(buf, tokens)
	extraStart := len(buf)
	if nkeys == 0 {
		return append(buf, cborNull), extraStart
	}
	buf = cborArray(buf, nkeys)
	if ex.Adapter != "" {
		buf = cborText(buf, ex.Adapter)
	}
	for _, i := range sel {
		it := &ex.MM[i]
		buf = cborArray(buf, 2)
		buf = cborText(buf, it.ID)
		buf = cborInt(buf, int64(it.Offset-start))
	}
	if start == 0 && ex.CacheSalt != "" {
		buf = cborText(buf, ex.CacheSalt)
	}
	if ex.hasEmbeds() {
		buf = cborBytes(buf, embedSum[:])
	}
	return buf, extraStart
}
