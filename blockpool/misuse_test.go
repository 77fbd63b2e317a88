package blockpool

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// The misuse suite: the extremes of every integer parameter of every exported
// function and method, each asserting the sentinel error, an unchanged pool (free
// queue, every block's reference count and hash, counters) and clean invariants.

type poolSnap struct {
	Free      []BlockID
	Refs      []int
	Hashes    []uint64
	Idents    []uint64
	Levels    [][2]int64
	Cached    int
	Evictions uint64
	Now       int64
}

func snapPool(p *Pool) poolSnap {
	s := poolSnap{Free: p.FreeOrder(nil), Cached: p.NumCached(), Evictions: p.evictions, Now: p.Now()}
	for id := range BlockID(p.NumBlocks()) {
		h, _ := p.Hash(id)
		l, e := p.Level(id)
		s.Refs = append(s.Refs, p.RefCount(id))
		s.Hashes = append(s.Hashes, h)
		s.Idents = append(s.Idents, p.Identity(id))
		s.Levels = append(s.Levels, [2]int64{int64(l), e})
	}
	return s
}

// poolFixture: 8 blocks of 2 tokens, 3 retention levels (default 1), a child index;
// clock at 1; blocks 0 and 1 held, 0 cached, 2 cached and free at level 2 until 5.
func poolFixture(t testing.TB) *Pool {
	p, err := New(Config{NumBlocks: 8, BlockSize: 2, Levels: 3, DefaultLevel: 1, IndexChildren: true})
	require.NoError(t, err)
	ids, _ := p.Allocate(nil, 3)
	_, err = p.Cache(ids[0], key(1, 0, 1, 2), fresh())
	require.NoError(t, err)
	_, err = p.Cache(ids[2], key(2, 0, 3, 4), fresh())
	require.NoError(t, err)
	require.NoError(t, p.ReleaseWith(ids[2:], Retention{Level: 2, Expiry: 5}))
	require.NoError(t, p.SetTime(1))
	must(t, p)
	return p
}

var ids32 = []BlockID{0, -1, math.MinInt32, math.MaxInt32, math.MaxInt32 - 40}
var ints = []int{0, -1, math.MinInt, math.MaxInt, math.MaxInt - 40}

func TestMisuse(t *testing.T) {
	type row struct {
		name    string
		want    error // nil: valid
		changes bool
		call    func(p *Pool) error
	}
	var rows []row
	for _, n := range ints {
		var want error
		switch {
		case n < 0:
			want = ErrInvalidBlock
		case n > 0:
			want = ErrNoSpace
		}
		rows = append(rows, row{fmt.Sprintf("Allocate n=%d", n), want, false, func(p *Pool) error { _, err := p.Allocate(nil, n); return err }})
	}
	for _, lv := range ints {
		for _, ex := range []int64{0, -1, math.MinInt64, math.MaxInt64, MaxTime} {
			var want error
			if lv < 0 || lv >= 3 || ex < 0 || ex > MaxTime {
				want = ErrInvalidRetention
			}
			r := Retention{Level: lv, Expiry: ex}
			rows = append(rows,
				row{fmt.Sprintf("ReleaseWith level=%d expiry=%d", lv, ex), want, true, func(p *Pool) error { return p.ReleaseWith([]BlockID{1, 0}, r) }},
				row{fmt.Sprintf("ReleaseTableWith level=%d expiry=%d", lv, ex), want, true, func(p *Pool) error { return p.ReleaseTableWith([]BlockID{0}, r) }})
		}
	}
	rows = append(rows, row{"ReleaseWith free block", ErrInvalidBlock, false, func(p *Pool) error {
		return p.ReleaseWith([]BlockID{1, 2}, Retention{Level: 2})
	}})
	rows = append(rows, row{"Cache identity 0", ErrInvalidKey, false, func(p *Pool) error { _, err := p.Cache(1, key(9, 0, 9, 9), 0); return err }})
	for _, id := range ids32 {
		bad := id != 0
		expect := func(ok error) error {
			if bad {
				return ErrInvalidBlock
			}
			return ok
		}
		rows = append(rows,
			row{fmt.Sprintf("Retain id=%d", id), expect(nil), true, func(p *Pool) error { return p.Retain(id) }},
			row{fmt.Sprintf("Release id=%d", id), expect(nil), true, func(p *Pool) error { return p.Release([]BlockID{1, id}) }},
			row{fmt.Sprintf("ReleaseTable id=%d", id), expect(nil), true, func(p *Pool) error { return p.ReleaseTable([]BlockID{id, 1}) }},
			row{fmt.Sprintf("Cache id=%d", id), ErrInvalidBlock, false, func(p *Pool) error { // 0 is already cached
				_, err := p.Cache(id, key(9, 0, 9, 9), fresh())
				return err
			}},
			row{fmt.Sprintf("views id=%d", id), nil, false, func(p *Pool) error {
				h, cached := p.Hash(id)
				switch {
				case bad && (p.RefCount(id) != 0 || cached || h != 0 || p.Writable(id)):
					return fmt.Errorf("out-of-range id %d reads as a block", id)
				case !bad && (p.RefCount(id) != 1 || !cached || p.Writable(id)):
					return fmt.Errorf("block 0 misread")
				}
				if _, ok := p.Lookup(key(1, p.Identity(id), 9, 9)); ok {
					return fmt.Errorf("lookup through parent %d hit", id)
				}
				k, ident, ok := p.CachedKey(id)
				if bad != !ok || bad != (ident == 0) || !bad && (k.Hash != 1 || ident != p.Identity(id)) {
					return fmt.Errorf("CachedKey(%d) = %v %d %v", id, k, ident, ok)
				}
				if l, e := p.Level(id); l != 1 || e != 0 {
					return fmt.Errorf("Level(%d) = %d %d", id, l, e)
				}
				return nil
			}},
		)
	}
	rows = append(rows,
		row{"Release twice", ErrInvalidBlock, false, func(p *Pool) error { return p.Release([]BlockID{1, 1}) }},
		row{"Release free", ErrInvalidBlock, false, func(p *Pool) error { return p.Release([]BlockID{2}) }},
		row{"Cache wrong length", ErrInvalidKey, false, func(p *Pool) error { _, err := p.Cache(1, key(9, 0, 9), fresh()); return err }},
		row{"Cache free block", ErrInvalidBlock, false, func(p *Pool) error { _, err := p.Cache(3, key(9, 0, 9, 9), fresh()); return err }},
		row{"ResetCache in use", ErrInUse, false, func(p *Pool) error { return p.ResetCache() }},
		row{"DropCached in use", ErrInUse, false, func(p *Pool) error { return p.DropCached() }},
		row{"SetTime backwards", ErrInvalidRetention, false, func(p *Pool) error { return p.SetTime(0) }},
		row{"SetTime now", nil, false, func(p *Pool) error { return p.SetTime(1) }},
		row{"SetTime MaxTime", nil, true, func(p *Pool) error { return p.SetTime(MaxTime) }},
		row{"SetTime past MaxTime", ErrInvalidRetention, false, func(p *Pool) error { return p.SetTime(MaxTime + 1) }},
		row{"SetTime negative", ErrInvalidRetention, false, func(p *Pool) error { return p.SetTime(-1) }},
		row{"Partial views", nil, false, func(p *Pool) error {
			if id, k := p.Partial(0, 0, []int32{1, 9}, 0); id != 0 || k != 1 {
				return fmt.Errorf("partial %d %d", id, k)
			}
			for _, scan := range []int{-1, math.MinInt} {
				if id, _ := p.Partial(0, 0, []int32{1, 2}, scan); id != NoBlock {
					return fmt.Errorf("partial with scan %d found %d", scan, id)
				}
			}
			if id, _ := p.Partial(0, 0, []int32{1, 2, 3}, 0); id != NoBlock {
				return errors.New("partial longer than a block")
			}
			if id, _ := p.Partial(0, 0, nil, math.MaxInt); id != NoBlock {
				return errors.New("partial of nothing")
			}
			return nil
		}},
		row{"Lookup wrong length", nil, false, func(p *Pool) error {
			if _, ok := p.Lookup(key(1, 0, 1)); ok {
				return errors.New("hit with a short key")
			}
			return nil
		}},
	)
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			p := poolFixture(t)
			before := snapPool(p)
			err := r.call(p)
			if r.want == nil {
				require.NoError(t, err)
			} else {
				require.True(t, errors.Is(err, r.want), "got %v, want %v", err, r.want)
			}
			if !r.changes || r.want != nil {
				if after := snapPool(p); !reflect.DeepEqual(before, after) {
					require.Equal(t, before, after, "the call changed the pool")
				}
			}
			must(t, p)
		})
	}
}

// New with the extremes of every Config integer: ErrInvalidConfig, never a panic or
// an allocation it cannot afford; a zero BlockSize means 16.
func TestConfigMisuse(t *testing.T) {
	for _, v := range ints {
		_, err := New(Config{NumBlocks: v})
		require.True(t, errors.Is(err, ErrInvalidConfig), "NumBlocks %d: %v", v, err)
		p, err := New(Config{NumBlocks: 4, BlockSize: v})
		if v == 0 {
			require.NoError(t, err)
			require.Equal(t, 16, p.BlockSize())
			continue
		}
		require.True(t, errors.Is(err, ErrInvalidConfig), "BlockSize %d: %v", v, err)
	}
	for name, c := range map[string]Config{
		"NumBlocks near 1<<31":       {NumBlocks: 1<<31 - 2},
		"NumBlocks over the limit":   {NumBlocks: MaxNumBlocks + 1},
		"BlockSize 1<<40":            {NumBlocks: 4, BlockSize: 1 << 40},
		"BlockSize over the limit":   {NumBlocks: 4, BlockSize: MaxBlockSize + 1},
		"metadata over the estimate": {NumBlocks: MaxNumBlocks, BlockSize: 1024},
	} {
		_, err := New(c)
		require.True(t, errors.Is(err, ErrInvalidConfig), "%s: %v", name, err)
	}
	for _, v := range ints {
		if v >= 0 && v <= MaxNumBlocks {
			continue
		}
		require.Equal(t, int64(math.MaxInt64), MetadataBytes(v, 16))
		require.Equal(t, int64(math.MaxInt64), MetadataBytes(16, v))
	}
	// One block and two sentinels (head zone, one level), the hash table, the expiry,
	// the decay heap's bound and two token ids.
	require.Equal(t, int64(3*64+4*16+8+(2+64)*16+2*4), MetadataBytes(1, 2))
	require.Equal(t, MetadataBytes(1, 2)+4*16+8, MetadataBytesFor(Config{NumBlocks: 1, BlockSize: 2, IndexChildren: true}))
	require.Equal(t, MetadataBytes(1, 2)+254*64, MetadataBytesFor(Config{NumBlocks: 1, BlockSize: 2, Levels: MaxLevels}))
	require.Equal(t, int64(math.MaxInt64), MetadataBytesFor(Config{NumBlocks: 1, Levels: MaxLevels + 1}))
	// The largest pool of 16-token blocks still fits the limit.
	_, err := New(Config{NumBlocks: MaxNumBlocks, BlockSize: 16, Levels: MaxLevels, IndexChildren: true})
	require.True(t, errors.Is(err, ErrInvalidConfig), "with every option the largest pool is refused: %v", err)
	require.LessOrEqual(t, MetadataBytes(MaxNumBlocks, 16), int64(MaxMetadataBytes))
	p, err := New(Config{NumBlocks: 3})
	require.NoError(t, err)
	require.Equal(t, "unhashed-first", p.Policy().String())
	for _, c := range []Config{{NumBlocks: 3, Levels: -1}, {NumBlocks: 3, Levels: 256}, {NumBlocks: 3, Levels: 4, DefaultLevel: 4},
		{NumBlocks: 3, DefaultLevel: -1}, {NumBlocks: 3, DefaultLevel: 1}} {
		_, err := New(c)
		require.True(t, errors.Is(err, ErrInvalidConfig), "%+v: %v", c, err)
	}
}
