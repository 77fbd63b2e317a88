package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONAndErrors(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", "-quiet", "-only", "pool/alloc-release-64"}, &out, &errb), errb.String())
	var doc struct {
		Results []map[string]any `json:"results"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Len(t, doc.Results, 1)
	for _, k := range []string{"name", "unit", "value", "baseline", "ratio"} {
		require.Contains(t, doc.Results[0], k)
	}
	require.Equal(t, 2, run([]string{"-nope"}, &out, &errb))
	require.Equal(t, 2, run([]string{"extra"}, &out, &errb))
}
