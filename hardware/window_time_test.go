package hardware

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIterationTimeWindowed(t *testing.T) {
	d := Default()
	for _, c := range [][2]int{{1, 0}, {40, 10000}, {2048, 0}, {256, 500000}} {
		require.Equal(t, d.IterationTime(c[0], c[1]), d.IterationTimeWindowed(c[0], c[1], 0), "no window: the plain model")
	}
	d.Model, _ = LookupModel("gpt-oss-20b")
	d.GPU, _ = LookupGPU("h100-80")
	require.NoError(t, d.Validate())
	// Windows as long as the context cost what full attention does; a short window
	// costs less, down to the full layers' half when the window reads nothing.
	long, short := d.IterationTimeWindowed(256, 1<<20, 1<<20), d.IterationTimeWindowed(256, 1<<20, 256*128)
	require.InDelta(t, d.IterationTime(256, 1<<20), long, 1e-12)
	require.Less(t, short, long)
	require.Greater(t, short, d.IterationTimeWindowed(256, 1<<20, 0))
	require.Zero(t, d.IterationTimeWindowed(0, 5, 5))
	require.Equal(t, 0, WindowContext(0, 5, 100, true))
	require.Equal(t, 3*128, WindowContext(128, 3, 3000, true))
	require.Equal(t, 90, WindowContext(128, 3, 90, true))
	require.Equal(t, 10+127, WindowContext(128, 10, 5000, false))
	require.Equal(t, 50, WindowContext(128, 10, 50, false))
}
