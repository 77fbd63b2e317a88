package paged

import (
	"math/rand/v2"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// LookupChain answers exactly what LookupPrompt answers, from hashes computed once:
// with the device tier alone, with a host prefix cache, with partial block reuse.
func TestLookupChainEqualsLookupPrompt(t *testing.T) {
	configs := map[string]func(*Config){
		"device":  nil,
		"host":    func(c *Config) { c.NumBlocks, c.HostBlocks, c.HostCache.Policy = 16, 48, WriteBack },
		"partial": func(c *Config) { c.PartialBlockReuse = true },
		"groups": func(c *Config) {
			c.Groups = []KVGroup{{Kind: FullAttention}, {Kind: SlidingWindow, Window: 6}}
		},
		"groups, foreign hasher": func(c *Config) { // windowed groups confirm by the manager's own fingerprints
			c.Groups = []KVGroup{{Kind: FullAttention}, {Kind: SlidingWindow, Window: 6}}
			c.Hasher = sumHasher{}
		},
	}
	for name, mod := range configs {
		t.Run(name, func(t *testing.T) {
			m := newMgr(t, 64, 4, mod)
			rng := rand.New(rand.NewPCG(1, 2))
			opts := []SeqOptions{{}, {Adapter: "lora-a"}, {CacheSalt: "s"}}
			prompt := func() ([]int32, SeqOptions) {
				// Shared prefixes from a small set, so lookups hit partly.
				p := cat(span(1000*rng.IntN(3), 4*rng.IntN(6)+rng.IntN(3)), span(100_000+rng.IntN(50), 1+rng.IntN(9)))
				return p, opts[rng.IntN(len(opts))]
			}
			var ids []SeqID
			hits, hostHits := 0, 0
			chain := m.HashScheme().NewChain(prefix.Extras{})
			for i := range 300 {
				p, o := prompt()
				if i%3 == 0 { // cache it
					if len(ids) > 3 {
						require.NoError(t, m.Free(ids[0]))
						ids = ids[1:]
					}
					id, err := m.Add(p, o)
					require.NoError(t, err)
					if adm, err := m.Admit(id, len(p), 0, nil); err == nil && adm.Admission == AdmitNow {
						require.NoError(t, m.MarkComputed(id, adm.N))
						ids = append(ids, id)
					} else {
						require.NoError(t, m.Free(id))
					}
				}
				want, err := m.LookupPromptTiers(p, o)
				require.NoError(t, err)
				chain.SetExtras(m.HashScheme(), prefix.Extras{Adapter: o.Adapter, CacheSalt: o.CacheSalt})
				chain.Extend(p)
				got, err := m.LookupChainTiers(&chain, p)
				require.NoError(t, err)
				require.Equal(t, want, got, "prompt %v opts %+v", p, o)
				if want.Tokens > 0 {
					hits++
				}
				if want.Host > 0 {
					hostHits++
				}
				if name == "device" && want.Tokens > 4 { // a chain cut short answers for its blocks only
					chain.Truncate(want.Tokens/4 - 1)
					n, err := m.LookupChain(&chain, p)
					require.NoError(t, err)
					require.Equal(t, want.Tokens-4, n)
				}
			}
			require.Greater(t, hits, 50, "the workload hits")
			if name == "host" {
				require.Positive(t, hostHits, "hits in the host tier")
			}
			inv(t, m)
		})
	}
}

func TestLookupChainArguments(t *testing.T) {
	m := newMgr(t, 16, 4)
	p := span(0, 13)
	prefill(t, m, p, SeqOptions{})
	_, err := m.LookupChain(nil, p)
	require.ErrorIs(t, err, ErrInvalidArgument)
	c := m.HashScheme().NewChain(prefix.Extras{})
	n, err := m.LookupChain(&c, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	// Another seed hashes differently: nothing is found.
	other, err := prefix.New(prefix.Config{BlockSize: 4, Seed: 7})
	require.NoError(t, err)
	oc := other.NewChain(prefix.Extras{})
	oc.Extend(p)
	n, err = m.LookupChain(&oc, p)
	require.NoError(t, err)
	require.Zero(t, n)
	c.Extend(p)
	n, err = m.LookupChain(&c, p)
	require.NoError(t, err)
	require.Equal(t, 12, n)
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = m.LookupChain(&c, p) }))
	// Multimodal items are checked against the prompt as Add and LookupPrompt check
	// them: outside it, out of order or overlapping, they are refused.
	for _, mm := range [][]prefix.MMItem{
		{{ID: "x", Offset: 5, Length: 100}},
		{{ID: "x", Offset: -1, Length: 2}},
		{{ID: "x", Offset: 6, Length: 2}, {ID: "y", Offset: 1, Length: 2}},
		{{ID: "x", Offset: 1, Length: 4}, {ID: "y", Offset: 3, Length: 2}},
	} {
		bad := m.HashScheme().NewChain(prefix.Extras{MM: mm})
		bad.Extend(p)
		_, err := m.LookupChain(&bad, p)
		require.ErrorIs(t, err, ErrInvalidArgument, "%+v", mm)
		_, err = m.LookupPrompt(p, SeqOptions{MM: mm})
		require.ErrorIs(t, err, ErrInvalidArgument, "%+v", mm)
	}
	good := m.HashScheme().NewChain(prefix.Extras{MM: []prefix.MMItem{{ID: "x", Offset: 5, Length: 3}}})
	good.Extend(p)
	n, err = m.LookupChain(&good, p)
	require.NoError(t, err)
	require.Equal(t, 4, n, "the blocks before the item's")
}

// sumHasher is a Hasher package prefix does not know (so a manager with windowed groups
// computes its own prefix fingerprints).
type sumHasher struct{}

func (sumHasher) Sum(b []byte) prefix.Hash {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return prefix.Hash(h)
}
