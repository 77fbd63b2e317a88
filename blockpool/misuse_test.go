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
	Cached    int
	Evictions uint64
}

func snapPool(p *Pool) poolSnap {
	s := poolSnap{Free: p.FreeOrder(nil), Cached: p.NumCached(), Evictions: p.evictions}
	for id := range BlockID(p.NumBlocks()) {
		h, _ := p.Hash(id)
		s.Refs = append(s.Refs, p.RefCount(id))
		s.Hashes = append(s.Hashes, h)
	}
	return s
}

// poolFixture: 8 blocks of 2 tokens; blocks 0 and 1 held, 0 cached, 2 cached and free.
func poolFixture(t testing.TB) *Pool {
	p := newPool(t, 8, 2, nil)
	ids, _ := p.Allocate(nil, 3)
	_, err := p.Cache(ids[0], key(1, 0, 1, 2), fresh())
	require.NoError(t, err)
	_, err = p.Cache(ids[2], key(2, 0, 3, 4), fresh())
	require.NoError(t, err)
	require.NoError(t, p.Release(ids[2:]))
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
	// One block and two sentinels (head zone, one level), the hash table, four 8-byte
	// side tables, the decay heap's bound and two token ids.
	require.Equal(t, int64(3*32+4*12+4*8+(2+64)*16+2*4), MetadataBytes(1, 2))
	require.Equal(t, MetadataBytes(1, 2)+4*12+8, MetadataBytesFor(Config{NumBlocks: 1, BlockSize: 2, IndexChildren: true}))
	require.Equal(t, MetadataBytes(1, 2)+254*32, MetadataBytesFor(Config{NumBlocks: 1, BlockSize: 2, Levels: MaxLevels}))
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
