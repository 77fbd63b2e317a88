package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// -window-freeing=false serves a sliding-window model from one table of
// every-layer blocks; the default splits it into KV-cache groups (gpt-oss-20b: two
// groups of 12 layers, so twice the blocks of half the size).
func TestWindowFreeingFlag(t *testing.T) {
	blocks := map[bool]float64{}
	for _, free := range []bool{true, false} {
		var out, errb bytes.Buffer
		args := []string{"-model", "gpt-oss-20b", "-gpu", "h100-80", "-requests", "40", "-rate", "4", "-json", "-out", "",
			"-policies", "paged", "-window-freeing=" + map[bool]string{true: "true", false: "false"}[free]}
		code := run(args, &out, &errb)
		require.Equal(t, 0, code, errb.String())
		var doc struct {
			Runs []map[string]any `json:"runs"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
		require.Equal(t, float64(40), doc.Runs[0]["requests_completed"])
		blocks[free] = doc.Runs[0]["num_blocks"].(float64)
	}
	require.InDelta(t, 2*blocks[false], blocks[true], 2)
	var out, errb bytes.Buffer
	code := run([]string{"-model", "gpt-oss-20b", "-gpu", "h100-80", "-requests", "4", "-swap-gib", "1", "-out", "", "-policies", "paged"}, &out, &errb)
	require.NotZero(t, code, "swapping does not combine with window freeing")
	require.Contains(t, errb.String(), "window freeing")
}
