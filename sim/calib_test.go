package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProfileMeans(t *testing.T) {
	for name, p := range Profiles {
		reqs, err := Synthetic{Profile: p, Requests: 40000, Seed: 1}.Generate()
		require.NoError(t, err)
		var in, out float64
		for _, r := range reqs {
			in += float64(len(r.Prompt))
			out += float64(r.OutputLen)
			require.LessOrEqual(t, len(r.Prompt)+r.OutputLen, p.MaxTotal)
			require.GreaterOrEqual(t, len(r.Prompt), 4)
		}
		in /= float64(len(reqs))
		out /= float64(len(reqs))
		t.Logf("%s: mean in %.1f (paper %.2f), out %.1f (paper %.2f)", name, in, p.PaperMeanIn, out, p.PaperMeanOut)
		require.InEpsilon(t, p.PaperMeanIn, in, 0.03, name)
		require.InEpsilon(t, p.PaperMeanOut, out, 0.03, name)
	}
}
