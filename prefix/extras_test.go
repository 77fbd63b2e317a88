package prefix

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExtrasValidate(t *testing.T) {
	require.NoError(t, Extras{PromptEmbeds: make([]byte, 8), EmbedRowBytes: 4}.Validate())
	require.NoError(t, Extras{MM: []MMItem{{ID: "a", Offset: 0, Length: 1}, {ID: "b", Offset: 3, Length: 1}}}.Validate())
	for _, ex := range []Extras{
		{MM: []MMItem{{ID: "a", Offset: -1, Length: 1}}},
		{MM: []MMItem{{ID: "a", Offset: 0, Length: 0}}},
		{MM: []MMItem{{ID: "a", Offset: 5, Length: 1}, {ID: "b", Offset: 3, Length: 1}}},
		{MM: []MMItem{{ID: "a", Offset: maxInt - 1, Length: 2}}},
		{PromptEmbeds: make([]byte, 10), EmbedRowBytes: 4},
		{PromptEmbeds: make([]byte, 8)},
		{EmbedRowBytes: -4},
	} {
		require.True(t, errors.Is(ex.Validate(), ErrInvalidExtras))
	}
}
