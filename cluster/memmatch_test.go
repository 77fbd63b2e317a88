package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// pathOf reports which path a match of hs takes.
func pathOf(x *MemoryIndex, hs []uint64) string {
	sc := x.beginMatch()
	x.continueMatch(sc, hs)
	p := "entries"
	if sc.bySlot {
		p = "slots"
	}
	x.endMatch(sc, nil)
	return p
}

// The slot path is taken while the index is clean and has at most 64 engine slots;
// dead entries (until swept) and more slots send matching down the entry path.
func TestMatchPathChoice(t *testing.T) {
	x := newMem(t, MemoryConfig{Shards: 2, SweepPerApply: 4})
	hs := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	mustApply(t, x, st("a", 0, gpu(hs...)), Applied)
	mustApply(t, x, st("b", 0, cpu(hs[:4]...)), Applied)
	require.Equal(t, "slots", pathOf(x, hs))
	want := map[EngineID]EngineMatch{"a": em("a", 8, 8), "b": em("b", 4, 0)}
	require.Equal(t, want, matchMap(t, x, hs...))
	mustApply(t, x, st("b", 1, cleared()), Applied)
	require.Equal(t, "entries", pathOf(x, hs), "b's dead entries are not swept yet")
	require.Equal(t, map[EngineID]EngineMatch{"a": em("a", 8, 8)}, matchMap(t, x, hs...))
	for seq := uint64(1); x.dirty.Load() > 0; seq++ {
		mustApply(t, x, st("a", seq), Applied)
		require.Less(t, seq, uint64(20))
	}
	require.Equal(t, "slots", pathOf(x, hs))
	require.Equal(t, map[EngineID]EngineMatch{"a": em("a", 8, 8)}, matchMap(t, x, hs...))
	// Resyncs and clears of engines that hold nothing kill nothing: no sweep owed.
	require.NoError(t, x.Resync(context.Background(), "fresh", 0))
	mustApply(t, x, st("fresh", 0, cleared()), Applied)
	require.NoError(t, x.DropEngine(context.Background(), "fresh"))
	require.Equal(t, "slots", pathOf(x, hs))
	for i := range 64 {
		mustApply(t, x, st(EngineID(fmt.Sprint("e", i)), 0, gpu(100)), Applied)
	}
	require.Equal(t, "entries", pathOf(x, hs), "65 engine slots")
	require.Equal(t, map[EngineID]EngineMatch{"a": em("a", 8, 8)}, matchMap(t, x, hs...))
	require.NoError(t, x.CheckInvariants())
}

// Both paths answer as the reference model does, under random updates, clears,
// drops, stale marks and resyncs, with up to 64 and then up to 80 engines.
func TestMatchPathsAgree(t *testing.T) {
	ctx := context.Background()
	slots := newMem(t, MemoryConfig{Shards: 4, SweepPerApply: 16})
	entries := newMem(t, MemoryConfig{Shards: 4, SweepPerApply: 16})
	entries.entryPathOnly = true
	m := newModel()
	rng := rand.New(rand.NewPCG(5, 6))
	chains := make([][]uint64, 6)
	for c := range chains {
		for i := range 12 {
			chains[c] = append(chains[c], uint64(c*100+i+1))
		}
	}
	tookSlots := 0
	for step := range 4000 {
		nEngines := 60
		if step >= 2000 {
			nEngines = 80
		}
		id := EngineID(fmt.Sprint("e", rng.IntN(nEngines)))
		switch r := rng.IntN(100); {
		case r == 0:
			m.drop(id)
			require.NoError(t, slots.DropEngine(ctx, id))
			require.NoError(t, entries.DropEngine(ctx, id))
		case r == 1:
			m.markStale(id)
			require.NoError(t, slots.MarkStale(ctx, id))
			require.NoError(t, entries.MarkStale(ctx, id))
		case r == 2:
			n := uint64(rng.IntN(3))
			m.resync(id, n)
			require.NoError(t, slots.Resync(ctx, id, n))
			require.NoError(t, entries.Resync(ctx, id, n))
		default:
			b := Batch{Engine: id, Seq: m.info(id).Next}
			for range 1 + rng.IntN(3) {
				c := chains[rng.IntN(len(chains))]
				k := rng.IntN(len(c))
				switch rng.IntN(40) {
				case 0:
					b.Events = append(b.Events, cleared())
				case 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
					b.Events = append(b.Events, Event{Kind: Removed, Hashes: c[k : k+1], Tier: Tier(rng.IntN(2))})
				default:
					b.Events = append(b.Events, Event{Kind: Stored, Hashes: c[:k+1], Tier: Tier(rng.IntN(2))})
				}
			}
			want := m.apply(b)
			mustApply(t, slots, b, want.Outcome)
			mustApply(t, entries, b, want.Outcome)
		}
		q := chains[rng.IntN(len(chains))]
		if pathOf(slots, q) == "slots" {
			tookSlots++
		}
		want := m.match(q)
		for _, x := range []*MemoryIndex{slots, entries} {
			got := matchMap(t, x, q...)
			require.Equal(t, len(want), len(got), "step %d query %v: got %v want %v", step, q, got, want)
			for e, w := range want {
				require.Equal(t, w, got[e], "step %d engine %s", step, e)
			}
		}
		if step%200 == 0 {
			require.NoError(t, slots.CheckInvariants())
			require.NoError(t, entries.CheckInvariants())
		}
	}
	t.Logf("slot path %d of 4000", tookSlots)
	require.Greater(t, tookSlots, 200, "the slot path was exercised")
}
