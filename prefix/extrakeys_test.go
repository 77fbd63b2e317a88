package prefix

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendExtraKeys(t *testing.T) {
	ex := Extras{Adapter: "sql", CacheSalt: "s", MM: []MMItem{{ID: "a", Offset: 2, Length: 5}, {ID: "b", Offset: 9, Length: 2}},
		PromptEmbeds: make([]byte, 12*2), EmbedRowBytes: 2}
	for name, s := range allSchemes(t, 4) {
		c := s.NewChain(ex)
		c.Extend(seq(16))
		rows := func(lo, hi int) [32]byte { return sha256.Sum256(ex.embedRows(lo, hi)) }
		require.Equal(t, []ExtraKey{{Kind: KeyLoRA, Text: "sql"}, {Kind: KeyMM, Text: "a", Offset: 2}, {Kind: KeySalt, Text: "s"},
			{Kind: KeyEmbeds, Digest: rows(0, 4)}}, c.AppendExtraKeys(nil, 0), name)
		require.Equal(t, []ExtraKey{{Kind: KeyLoRA, Text: "sql"}, {Kind: KeyMM, Text: "a", Offset: -2},
			{Kind: KeyEmbeds, Digest: rows(4, 8)}}, c.AppendExtraKeys(nil, 1), name)
		require.Equal(t, []ExtraKey{{Kind: KeyLoRA, Text: "sql"}, {Kind: KeyMM, Text: "b", Offset: 1},
			{Kind: KeyEmbeds, Digest: rows(8, 12)}}, c.AppendExtraKeys(nil, 2), name)
		require.Equal(t, []ExtraKey{{Kind: KeyLoRA, Text: "sql"}, {Kind: KeyEmbeds, Digest: sha256.Sum256(nil)}}, c.AppendExtraKeys(nil, 3), name)
		plain := s.NewChain(Extras{})
		plain.Extend(seq(8))
		require.Empty(t, plain.AppendExtraKeys(nil, 1))
	}
}
