package attention

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// A zero field means its documented default: KVHeads, HeadDim and NumBlocks suffice.
func TestConfigZeroValues(t *testing.T) {
	c, err := NewCache(Config{KVHeads: 2, HeadDim: 8, NumBlocks: 4})
	require.NoError(t, err)
	def := DefaultConfig()
	got := c.Config()
	require.Equal(t, def.Layers, got.Layers)
	require.Equal(t, def.BlockSize, got.BlockSize)
	require.Equal(t, def.DType, got.DType)
	require.Equal(t, def.TPSize, got.TPSize)
	require.Equal(t, 2*1*2*8*4, Config{KVHeads: 2, HeadDim: 8}.BytesPerToken())
	for _, bad := range []Config{
		{HeadDim: 8, NumBlocks: 4},                         // KVHeads required
		{KVHeads: 2, NumBlocks: 4},                         // HeadDim required
		{KVHeads: 2, HeadDim: 8},                           // NumBlocks required
		{KVHeads: 2, HeadDim: 8, NumBlocks: 4, Layers: -1}, // negative
		{KVHeads: 2, HeadDim: 8, NumBlocks: 4, TPSize: 2, TPRank: 2},
		{KVHeads: 2, HeadDim: 8, NumBlocks: 4, TPSize: 3},
		{KVHeads: 4, HeadDim: 8, NumBlocks: 4, TPSize: -1},
	} {
		_, err := NewCache(bad)
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", bad)
	}
	// Params: QHeads 0 is multi-head attention.
	r := rand.New(rand.NewPCG(1, 2))
	seq := fill(t, c, r, []int{5})[0]
	k := NewKernel(1)
	defer k.Close()
	q := make([]float32, 2*8)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	a, b := make([]float32, len(q)), make([]float32, len(q))
	require.NoError(t, k.Decode(c, 0, Params{}, q, [][]int32{seq.table}, []int{5}, a))
	require.NoError(t, k.Decode(c, 0, Params{QHeads: 2}, q, [][]int32{seq.table}, []int{5}, b))
	require.Equal(t, a, b)
	// query heads must also divide over the ranks: 2 KV heads replicated on 4 ranks
	sc, err := NewCache(Config{KVHeads: 2, HeadDim: 8, NumBlocks: 4, TPSize: 4, TPRank: 3})
	require.NoError(t, err)
	require.ErrorIs(t, k.Decode(sc, 0, Params{QHeads: 2}, q[:8], [][]int32{seq.table}, []int{5}, a[:8]), ErrInvalidConfig)
}

func TestHeadRanges(t *testing.T) {
	for _, tc := range []struct{ kv, tp, rank, first, n int }{
		{8, 1, 0, 0, 8}, {8, 2, 1, 4, 4}, {8, 8, 5, 5, 1}, {8, 16, 11, 5, 1}, {2, 4, 3, 1, 1},
	} {
		cfg := Config{KVHeads: tc.kv, TPSize: tc.tp, TPRank: tc.rank}
		f, n := cfg.KVHeadRange()
		require.Equal(t, [2]int{tc.first, tc.n}, [2]int{f, n}, "%+v", tc)
		// query heads: GQA 4
		qf, qn := cfg.QHeadRange(4 * tc.kv)
		require.Equal(t, 4*tc.kv/tc.tp, qn)
		require.Equal(t, tc.rank*qn, qf)
		require.Equal(t, tc.first, qf/4, "the shard's first query head reads its first KV head")
	}
}

// Sharding the KV heads over ranks (fewer heads per rank, or one head replicated on
// several ranks) gives each rank's query heads exactly the unsharded outputs, on
// every path, for decode and prefill.
func TestTensorParallelShardsMatchUnsharded(t *testing.T) { forEachPath(t, checkTensorParallel) }

func checkTensorParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, dt := range []DType{Float32, BFloat16, FP8E4M3} {
		for _, tp := range []int{2, 4, 8} {
			const kvHeads, group, d, ctx = 4, 2, 32, 150
			qHeads := kvHeads * group
			full := Config{Layers: 1, KVHeads: kvHeads, HeadDim: d, BlockSize: 16, NumBlocks: 40, DType: dt}
			c, err := NewCache(full)
			require.NoError(t, err)
			seq := fill(t, c, r, []int{ctx})[0]
			slots := make([]int64, ctx)
			for p := range slots {
				slots[p] = int64(seq.table[p/16])*16 + int64(p%16)
			}
			q := make([]float32, qHeads*d)
			pq := make([]float32, 20*qHeads*d) // prefill of the last 20 tokens
			for i := range q {
				q[i] = float32(r.NormFloat64())
			}
			for i := range pq {
				pq[i] = float32(r.NormFloat64())
			}
			k := NewKernel(2)
			p := Params{QHeads: qHeads}
			want := make([]float32, len(q))
			require.NoError(t, k.Decode(c, 0, p, q, [][]int32{seq.table}, []int{ctx}, want))
			wantPre := make([]float32, len(pq))
			require.NoError(t, k.Prefill(c, 0, p, pq, seq.table, ctx-20, 20, wantPre))
			for rank := range tp {
				cfg := full
				cfg.TPSize, cfg.TPRank = tp, rank
				sc, err := NewCache(cfg)
				require.NoError(t, err)
				kf, kn := cfg.KVHeadRange()
				// the shard's K/V: its heads of each token
				sk := make([]float32, 0, ctx*kn*d)
				sv := make([]float32, 0, ctx*kn*d)
				for pos := range ctx {
					base := (pos*kvHeads + kf) * d
					sk = append(sk, seq.k[base:base+kn*d]...)
					sv = append(sv, seq.v[base:base+kn*d]...)
				}
				require.NoError(t, sc.Write(0, slots, sk, sv))
				qf, qn := cfg.QHeadRange(qHeads)
				sq := q[qf*d : (qf+qn)*d]
				got := make([]float32, len(sq))
				require.NoError(t, k.Decode(sc, 0, p, sq, [][]int32{seq.table}, []int{ctx}, got))
				require.Equal(t, want[qf*d:(qf+qn)*d], got, "%v decode tp %d rank %d", dt, tp, rank)
				spq := make([]float32, 0, 20*qn*d)
				for i := range 20 {
					spq = append(spq, pq[(i*qHeads+qf)*d:(i*qHeads+qf+qn)*d]...)
				}
				gotPre := make([]float32, len(spq))
				require.NoError(t, k.Prefill(sc, 0, p, spq, seq.table, ctx-20, 20, gotPre))
				for i := range 20 {
					require.Equal(t, wantPre[(i*qHeads+qf)*d:(i*qHeads+qf+qn)*d], gotPre[i*qn*d:(i+1)*qn*d], "%v prefill tp %d rank %d token %d", dt, tp, rank, i)
				}
				// shapes are the shard's
				require.ErrorIs(t, k.Decode(sc, 0, p, q, [][]int32{seq.table}, []int{ctx}, make([]float32, len(q))), ErrShape)
				require.ErrorIs(t, k.Decode(sc, 0, Params{QHeads: 6}, sq, [][]int32{seq.table}, []int{ctx}, got), ErrInvalidConfig)
			}
			k.Close()
		}
	}
}
