package cluster

import (
	"context"
	"errors"
	"testing"
)

// FuzzMemoryIndex decodes bytes into index operations on a tiny memory index (2
// shards, 12 keys, 3 engine slots, a small batch limit: eviction, slot reuse and
// sweeping all happen) and checks after every step the structural invariants and,
// for an index that has not evicted, equality with the reference model. Invalid
// batches must be rejected without any change.
//
//	go test -run XXX -fuzz FuzzMemoryIndex -fuzztime 200000x ./cluster
func FuzzMemoryIndex(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{9, 200, 3, 17, 5, 250, 6, 1, 80, 90, 100, 2, 33, 4, 5})
	f.Add([]byte{255, 254, 253, 252, 251, 250, 249, 248, 247, 246, 245, 244})
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		x, err := NewMemoryIndex(MemoryConfig{MaxKeys: 12, Shards: 2, MaxEngines: 3, MaxBatchHashes: 6, SweepPerApply: 2})
		if err != nil {
			t.Fatal(err)
		}
		m := newModel()
		engines := []EngineID{"a", "b", "c", "d"}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		evicted := false
		for len(data) > 0 {
			op := next()
			id := engines[int(op>>4)%len(engines)]
			known := m.engines[id] != nil
			switch op % 8 {
			case 0, 1, 2, 3, 4:
				b := Batch{Engine: id, Seq: m.info(id).Next}
				switch s := next(); {
				case s < 40 && b.Seq > 0:
					b.Seq--
				case s < 80:
					b.Seq += uint64(s % 3)
				case s == 255:
					b.Seq = MaxSeq + 1 // invalid
				}
				for range int(next() % 4) {
					k := next()
					ev := Event{Kind: EventKind(1 + k%3), Tier: Tier(k >> 7)}
					if k>>2&31 == 31 {
						ev.Tier = 2 // invalid
					}
					if ev.Kind != Cleared {
						for range int(1 + k>>2%3) {
							ev.Hashes = append(ev.Hashes, uint64(next()%20))
						}
					}
					b.Events = append(b.Events, ev)
				}
				before := len(m.engines)
				got, err := x.Apply(ctx, b)
				if err != nil {
					if validateBatch(&b, 6) == nil && !(errors.Is(err, ErrTooManyEngines) && !known && before >= 3) {
						t.Fatalf("valid batch %+v rejected: %v", b, err)
					}
					break
				}
				if validateBatch(&b, 6) != nil {
					t.Fatalf("invalid batch %+v accepted", b)
				}
				if want := m.apply(b); want != got {
					t.Fatalf("batch %+v: got %+v want %+v", b, got, want)
				}
			case 5:
				m.drop(id)
				if err := x.DropEngine(ctx, id); err != nil {
					t.Fatal(err)
				}
			case 6:
				if !known && len(m.engines) >= 3 {
					break
				}
				m.markStale(id)
				if err := x.MarkStale(ctx, id); err != nil {
					t.Fatal(err)
				}
			case 7:
				if !known && len(m.engines) >= 3 {
					break
				}
				n := m.info(id).Next
				if next()%2 == 0 {
					n = uint64(next() % 4)
				}
				m.resync(id, n)
				if err := x.Resync(ctx, id, n); err != nil {
					t.Fatal(err)
				}
			}
			if err := x.CheckInvariants(); err != nil {
				t.Fatal(err)
			}
			s, _ := x.Stats(ctx)
			evicted = evicted || s.Evictions > 0
			for _, id := range engines {
				info, _ := x.Engine(ctx, id)
				if info != m.info(id) {
					t.Fatalf("engine %s: %+v, model %+v", id, info, m.info(id))
				}
			}
			q := []uint64{uint64(next() % 20), uint64(next() % 20), uint64(next() % 20)}
			got, _ := x.Match(ctx, q, nil)
			gm, ok := asMap(got)
			if !ok {
				t.Fatalf("duplicate engine in %v", got)
			}
			want := m.match(q)
			for id, g := range gm {
				w, held := want[id]
				// Eviction may only shorten a run (a miss), never lengthen or invent one.
				if !held || g.Blocks > w.Blocks || (!evicted && g != w) {
					t.Fatalf("query %v engine %s: got %+v want %+v (evicted %v)", q, id, g, w, evicted)
				}
			}
			if !evicted && len(gm) != len(want) {
				t.Fatalf("query %v: got %v want %v", q, gm, want)
			}
		}
	})
}
