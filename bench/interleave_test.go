package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMedianSpreadFigure(t *testing.T) {
	require.Equal(t, 3.0, median([]float64{5, 1, 3}))
	require.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	require.Equal(t, 0.0, median(nil))
	require.InDelta(t, 2.0/3, spread([]float64{2, 3, 4}), 1e-12)
	// The ratio is the median of per-round ratios, not the ratio of medians.
	r := figure(Result{Name: "x"}, []float64{10, 20, 30}, []float64{10, 10, 60})
	require.Equal(t, 20.0, r.Value)
	require.Equal(t, 10.0, r.Baseline)
	require.Equal(t, 1.0, r.Ratio) // rounds: 1, 2, 0.5
	require.InDelta(t, 1.5, r.Spread, 1e-12)
	require.Equal(t, 3, r.Reps)
}

// Attention figures run in interleaved rounds: the measurements alternate.
func TestAttentionFiguresInterleave(t *testing.T) {
	var order []string
	res, err := Run(Options{Short: true, Reps: 2, Only: []string{"attention/prefill-chunk512-1k-fp8"},
		Progress: func(name string) { order = append(order, name) }})
	require.NoError(t, err)
	require.Len(t, res, 1)
	r := res[0]
	require.Equal(t, 2, r.Reps)
	require.Positive(t, r.Value)
	require.Positive(t, r.Baseline)
	p, c := "attention/prefill-chunk512-1k-fp8e4m3", "attention/prefill-chunk512-1k-fp8e4m3 (contiguous)"
	require.Equal(t, []string{p, c, p, c}, order)
}
