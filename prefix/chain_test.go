package prefix

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func seq(n int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(i*7 + 3)
	}
	return t
}

func hashesOf(t *testing.T, s *Scheme, ex Extras, toks []int32) []Hash {
	t.Helper()
	c := s.NewChain(ex)
	c.Extend(toks)
	out := make([]Hash, c.Len())
	for i := range out {
		out[i] = c.Hash(i)
	}
	return out
}

func TestOnlyFullBlocksAreHashed(t *testing.T) {
	s, _ := New(Config{BlockSize: 4})
	for _, n := range []int{0, 1, 3, 4, 5, 8, 11} {
		c := s.NewChain(Extras{})
		require.Equal(t, n/4, c.Extend(seq(n)), "n=%d", n)
	}
}

func TestIncrementalEqualsOneShot(t *testing.T) {
	s, _ := New(Config{BlockSize: 4})
	toks := seq(37)
	want := hashesOf(t, s, Extras{Adapter: "a"}, toks)
	c := s.NewChain(Extras{Adapter: "a"})
	for n := 0; n <= len(toks); n++ {
		c.Extend(toks[:n])
	}
	require.Equal(t, len(want), c.Len())
	for i := range want {
		require.Equal(t, want[i], c.Hash(i))
	}
	// Truncate then re-extend reproduces the same hashes.
	c.Truncate(3)
	require.Equal(t, 3, c.Len())
	c.Extend(toks)
	for i := range want {
		require.Equal(t, want[i], c.Hash(i))
	}
}

func TestChaining(t *testing.T) {
	s, _ := New(Config{BlockSize: 4})
	a := seq(12)
	b := append([]int32(nil), a...)
	b[1] = 999 // change block 0 only
	ha, hb := hashesOf(t, s, Extras{}, a), hashesOf(t, s, Extras{}, b)
	for i := range ha {
		require.NotEqual(t, ha[i], hb[i], "block %d must differ: its prefix differs", i)
	}
	c := append([]int32(nil), a...)
	c[9] = 999 // change block 2 only
	hc := hashesOf(t, s, Extras{}, c)
	require.Equal(t, ha[:2], hc[:2])
	require.NotEqual(t, ha[2], hc[2])
}

func TestExtraKeysIsolate(t *testing.T) {
	s, _ := New(Config{BlockSize: 4})
	toks := seq(12)
	plain := hashesOf(t, s, Extras{}, toks)
	for name, ex := range map[string]Extras{
		"salt":    {CacheSalt: "tenant-a"},
		"adapter": {Adapter: "lora-1"},
	} {
		h := hashesOf(t, s, ex, toks)
		for i := range h {
			require.NotEqual(t, plain[i], h[i], "%s block %d", name, i)
		}
	}
	require.NotEqual(t, hashesOf(t, s, Extras{CacheSalt: "a"}, toks)[2], hashesOf(t, s, Extras{CacheSalt: "b"}, toks)[2])
	// A multimodal item changes the blocks it overlaps (and, by chaining, later ones),
	// but not earlier ones.
	img := hashesOf(t, s, Extras{MM: []MMItem{{ID: "x", Offset: 5, Length: 2}}}, toks)
	require.Equal(t, plain[0], img[0])
	require.NotEqual(t, plain[1], img[1])
	// The same image at another offset inside the same block hashes differently.
	img2 := hashesOf(t, s, Extras{MM: []MMItem{{ID: "x", Offset: 6, Length: 2}}}, toks)
	require.NotEqual(t, img[1], img2[1])
	// Fingerprints: zero without extras, non-zero and distinct with different extras.
	c := s.NewChain(Extras{})
	c.Extend(toks)
	require.Zero(t, c.ExtraFingerprint(0))
	d := s.NewChain(Extras{Adapter: "a"})
	d.Extend(toks)
	e := s.NewChain(Extras{Adapter: "b"})
	e.Extend(toks)
	require.NotZero(t, d.ExtraFingerprint(1))
	require.NotEqual(t, d.ExtraFingerprint(1), e.ExtraFingerprint(1))
}

func TestCopyFromIsIndependent(t *testing.T) {
	s, _ := New(Config{BlockSize: 2})
	a := s.NewChain(Extras{})
	a.Extend(seq(6))
	var b Chain
	b.CopyFrom(&a)
	b.Truncate(1)
	require.Equal(t, 3, a.Len())
	require.Equal(t, 1, b.Len())
	require.Equal(t, a.Hash(0), b.Hash(0))
}

// every scheme the package offers, with extra keys of every kind where it matters.
func allSchemes(t testing.TB, bs int) map[string]*Scheme {
	t.Helper()
	out := map[string]*Scheme{}
	for name, h := range map[string]Hasher{
		"xxhash": XXHash{}, "xxh3": XXH3{},
		"sha256_cbor": VLLM{Algo: SHA256CBOR}, "xxhash_cbor": VLLM{Algo: XXHashCBOR, PythonHashSeed: "0"},
		"sha256": VLLM{Algo: SHA256Pickle, PythonHashSeed: "pagedkv"}, "xxhash_pickle": VLLM{Algo: XXHashPickle, PythonHashSeed: "0"},
	} {
		s, err := New(Config{BlockSize: bs, Hasher: h})
		require.NoError(t, err)
		out[name] = s
	}
	return out
}

func richExtras() Extras {
	emb := make([]byte, 40*12)
	for i := range emb {
		emb[i] = byte(i * 31)
	}
	return Extras{Adapter: "sql", CacheSalt: "t1", MM: []MMItem{{ID: "img", Offset: 3, Length: 9}, {ID: "aud", Offset: 20, Length: 2}},
		PromptEmbeds: emb, EmbedRowBytes: 12}
}

// Whatever the scheme: hashing token by token equals hashing at once (without
// multimodal items, where vLLM's incremental quirk does not apply), truncating and
// re-extending reproduces the hashes, copies are independent, the invariants hold.
func TestChainOperationsEveryScheme(t *testing.T) {
	for name, s := range allSchemes(t, 4) {
		ex := richExtras()
		ex.MM = nil
		toks := seq(45)
		want := s.NewChain(ex)
		want.Extend(toks)
		require.Equal(t, 11, want.Len(), name)
		require.NoError(t, want.checkInvariants())

		c := s.NewChain(ex)
		for n := 0; n <= len(toks); n++ {
			c.Extend(toks[:n])
			require.NoError(t, c.checkInvariants(), name)
		}
		for i := range want.Len() {
			require.Equal(t, want.Hash(i), c.Hash(i), "%s block %d", name, i)
			require.Equal(t, want.AppendDigest(nil, i), c.AppendDigest(nil, i))
			require.Equal(t, want.ExtraFingerprint(i), c.ExtraFingerprint(i))
			require.NotZero(t, c.ExtraFingerprint(i), "adapter and embeddings are on every block")
			require.NotEmpty(t, c.AppendExtraKeys(nil, i))
			d := c.AppendDigest(nil, i)
			require.Len(t, d, s.DigestSize())
		}
		c.Truncate(3)
		require.NoError(t, c.checkInvariants())
		var cp Chain
		cp.CopyFrom(&c)
		c.Extend(toks)
		require.Equal(t, want.Hash(10), c.Hash(10), name)
		require.Equal(t, 3, cp.Len())
		cp.Extend(toks[:20])
		require.Equal(t, 5, cp.Len())
		require.Equal(t, want.AppendDigest(nil, 4), cp.AppendDigest(nil, 4), name)
		require.NoError(t, cp.checkInvariants())

		plain := s.NewChain(Extras{})
		plain.Extend(toks)
		require.Zero(t, plain.ExtraFingerprint(1), name)
		require.Empty(t, plain.AppendExtraKeys(nil, 1), name)
		require.NotEqual(t, plain.Hash(0), want.Hash(0), name)
	}
}

// Hashing allocates nothing per block once a chain's buffers have grown, for every
// scheme and with every kind of extra key.
func TestChainSteadyStateAllocatesNothing(t *testing.T) {
	for name, s := range allSchemes(t, 16) {
		toks := seq(40 * 16)
		c := s.NewChain(richExtras())
		c.Extend(toks)
		allocs := testing.AllocsPerRun(20, func() {
			c.Reset()
			c.Extend(toks)
		})
		require.Zero(t, allocs, name)
	}
}
