package prefix

import "fmt"

// Extras are the per-sequence extra keys that are folded into block hashes. The zero
// value means none.
type Extras struct {
	// Adapter is the LoRA adapter name; it is part of every block's hash. vLLM keys
	// on the name since #27211 (2025-10; the integer LoRA id before). "" means no
	// adapter (an adapter literally named "" cannot be expressed).
	Adapter string
	// CacheSalt isolates tenants: it is part of block 0's hash and so, by chaining,
	// of every later one. "" means no salt (vLLM ignores an empty salt too).
	CacheSalt string
	// MM lists multimodal items (images, audio) by content id and placeholder range,
	// sorted by Offset. A block includes each item it overlaps with the item's offset
	// relative to the block start (for vLLM schemes, exactly the items vLLM's scan
	// selects; see VLLM). For vLLM the ID is the item's mm hash, written
	// "<lora name>:<mm hash>" when tower/connector LoRA is enabled.
	MM []MMItem
	// PromptEmbeds, when non-empty, holds the prompt given as embeddings: the raw
	// bytes of its rows as vLLM's tensor_data sees them (row-major, the tensor's
	// dtype, little-endian), EmbedRowBytes bytes per token. Each block then includes
	// the SHA-256 of the bytes of its rows (rows past the prompt contribute none, so
	// a block made only of generated tokens includes SHA-256 of nothing, as in vLLM).
	PromptEmbeds []byte
	// EmbedRowBytes is the number of bytes of one token's embedding row in
	// PromptEmbeds (dim × element size); required when PromptEmbeds is set.
	EmbedRowBytes int
}

// MMItem is one multimodal item occupying tokens [Offset, Offset+Length).
type MMItem struct {
	ID     string
	Offset int
	Length int
}

// Validate reports whether the extra keys are well formed: multimodal items sorted
// by offset with non-negative offsets and positive lengths, prompt embeddings made
// of whole rows. Errors wrap ErrInvalidExtras.
func (e Extras) Validate() error {
	prev := 0
	for i, it := range e.MM {
		if it.Offset < 0 || it.Length <= 0 || it.Offset > maxInt-it.Length {
			return fmt.Errorf("%w: item %d has offset %d length %d", ErrInvalidExtras, i, it.Offset, it.Length)
		}
		if it.Offset < prev {
			return fmt.Errorf("%w: items not sorted by offset at item %d", ErrInvalidExtras, i)
		}
		prev = it.Offset
	}
	if len(e.PromptEmbeds) > 0 || e.EmbedRowBytes != 0 {
		if e.EmbedRowBytes <= 0 || len(e.PromptEmbeds)%e.EmbedRowBytes != 0 {
			return fmt.Errorf("%w: %d embedding bytes are not whole rows of %d bytes", ErrInvalidExtras, len(e.PromptEmbeds), e.EmbedRowBytes)
		}
	}
	return nil
}

const maxInt = int(^uint(0) >> 1)

// ValidatePrompt is Validate for the extras of a prompt of n tokens: moreover every
// multimodal item lies inside the prompt and none overlaps another, and prompt
// embeddings, if any (or a row size), have one row per token (what
// paged.SeqOptions requires).
func (e Extras) ValidatePrompt(n int) error {
	if err := e.Validate(); err != nil {
		return err
	}
	end := 0
	for i, it := range e.MM {
		switch {
		case it.Offset > n || it.Length > n-it.Offset:
			return fmt.Errorf("%w: item %d at [%d, +%d) is not inside the %d-token prompt", ErrInvalidExtras, i, it.Offset, it.Length, n)
		case it.Offset < end:
			return fmt.Errorf("%w: item %d at %d overlaps the previous item", ErrInvalidExtras, i, it.Offset)
		}
		end = it.Offset + it.Length
	}
	if e.EmbedRowBytes != 0 && len(e.PromptEmbeds)/e.EmbedRowBytes != n {
		return fmt.Errorf("%w: %d embedding rows for a %d-token prompt", ErrInvalidExtras, len(e.PromptEmbeds)/e.EmbedRowBytes, n)
	}
	return nil
}

// hasEmbeds reports whether blocks carry a prompt-embedding key.
func (e *Extras) hasEmbeds() bool { return len(e.PromptEmbeds) > 0 }

// overlapsMM reports whether a multimodal item overlaps tokens [start, end) (the
// rule of pagedkv's own encoding).
func (e *Extras) overlapsMM(start, end int) bool {
	for _, it := range e.MM {
		if it.Offset >= end {
			return false
		}
		if it.Offset+it.Length > start {
			return true
		}
	}
	return false
}

// embedRows returns the embedding bytes of tokens [start, end): empty past the
// prompt.
func (e *Extras) embedRows(start, end int) []byte {
	rb, n := e.EmbedRowBytes, len(e.PromptEmbeds)
	lo, hi := min(start*rb, n), min(end*rb, n)
	return e.PromptEmbeds[lo:hi]
}
