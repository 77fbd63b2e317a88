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

// ValidatePrompt adds the prompt's bounds: items inside it and apart, one embedding
// row per token.
func TestExtrasValidatePrompt(t *testing.T) {
	ok := Extras{MM: []MMItem{{ID: "a", Offset: 0, Length: 2}, {ID: "b", Offset: 2, Length: 3}}}
	require.NoError(t, ok.ValidatePrompt(5))
	require.NoError(t, Extras{PromptEmbeds: make([]byte, 12), EmbedRowBytes: 4}.ValidatePrompt(3))
	require.NoError(t, Extras{}.ValidatePrompt(0))
	for name, c := range map[string]struct {
		ex Extras
		n  int
	}{
		"item past the end":  {ok, 4},
		"item starts beyond": {Extras{MM: []MMItem{{ID: "a", Offset: 30, Length: 20}}}, 40},
		"overlap":            {Extras{MM: []MMItem{{ID: "a", Offset: 0, Length: 3}, {ID: "b", Offset: 2, Length: 1}}}, 10},
		"rows":               {Extras{PromptEmbeds: make([]byte, 12), EmbedRowBytes: 4}, 4},
		"row size, no rows":  {Extras{EmbedRowBytes: 4}, 3},
		"invalid anyway":     {Extras{MM: []MMItem{{ID: "a", Offset: -1, Length: 1}}}, 10},
	} {
		require.ErrorIs(t, c.ex.ValidatePrompt(c.n), ErrInvalidExtras, name)
	}
}
