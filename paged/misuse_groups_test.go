package paged

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// Bad group configurations, and the features that refuse groups: ErrInvalidConfig
// naming the field, before anything is allocated.
func TestGroupConfigMisuse(t *testing.T) {
	base := []KVGroup{fullGroup(), sw(8)}
	for name, c := range map[string]Config{
		"too many groups":            {NumBlocks: 8, Groups: make([]KVGroup, MaxGroups+1)},
		"kind 3":                     {NumBlocks: 8, Groups: []KVGroup{{Kind: 3}}},
		"kind 255":                   {NumBlocks: 8, Groups: []KVGroup{fullGroup(), {Kind: 255, Window: 4}}},
		"full with a window":         {NumBlocks: 8, Groups: []KVGroup{{Kind: FullAttention, Window: 4}}},
		"window 0":                   {NumBlocks: 8, Groups: []KVGroup{sw(0)}},
		"window 1":                   {NumBlocks: 8, Groups: []KVGroup{sw(1)}},
		"window -1":                  {NumBlocks: 8, Groups: []KVGroup{sw(-1)}},
		"window MinInt":              {NumBlocks: 8, Groups: []KVGroup{sw(math.MinInt)}},
		"window MaxInt":              {NumBlocks: 8, Groups: []KVGroup{sw(math.MaxInt)}},
		"window MaxSeqLen+1":         {NumBlocks: 8, Groups: []KVGroup{sw(MaxSeqLen + 1)}},
		"chunk 0":                    {NumBlocks: 8, Groups: []KVGroup{fullGroup(), chunked(0)}},
		"chunk -5":                   {NumBlocks: 8, Groups: []KVGroup{fullGroup(), chunked(-5)}},
		"chunk MaxInt":               {NumBlocks: 8, Groups: []KVGroup{fullGroup(), chunked(math.MaxInt)}},
		"chunked without full":       {NumBlocks: 8, Groups: []KVGroup{chunked(8)}},
		"chunked and sliding only":   {NumBlocks: 8, Groups: []KVGroup{sw(8), chunked(8)}},
		"bytes -1":                   {NumBlocks: 8, Groups: []KVGroup{{BytesPerToken: -1}}},
		"bytes over":                 {NumBlocks: 8, Groups: []KVGroup{{BytesPerToken: MaxGroupBytesPerToken + 1}}},
		"bytes MinInt64":             {NumBlocks: 8, Groups: []KVGroup{fullGroup(), {Kind: SlidingWindow, Window: 4, BytesPerToken: math.MinInt64}}},
		"groups with HostBlocks":     {NumBlocks: 8, Groups: base, HostBlocks: 4},
		"groups with a host cache":   {NumBlocks: 8, Groups: base, HostBlocks: 4, HostCache: HostCacheOptions{Policy: WriteBack}},
		"groups with partial reuse":  {NumBlocks: 8, Groups: base, PartialBlockReuse: true},
		"groups register early":      {NumBlocks: 8, Groups: base, RegisterAtReserve: true},
		"groups with EAGLE drop":     {NumBlocks: 8, Groups: base, DropLastHitBlock: true},
		"one window with HostBlocks": {NumBlocks: 8, Groups: []KVGroup{sw(8)}, HostBlocks: 4},
		"two full with HostBlocks":   {NumBlocks: 8, Groups: []KVGroup{fullGroup(), fullGroup()}, HostBlocks: 4},
	} {
		_, err := New(c)
		require.True(t, errors.Is(err, ErrInvalidConfig), "%s: %v", name, err)
	}
	// One full-attention group is the plain model: every feature combines with it.
	for name, c := range map[string]Config{
		"one full group, host cache": {NumBlocks: 8, Groups: []KVGroup{{BytesPerToken: 100}}, HostBlocks: 4,
			HostCache: HostCacheOptions{Policy: WriteBack}, PartialBlockReuse: true, RegisterAtReserve: true, DropLastHitBlock: true},
		"window MaxSeqLen":            {NumBlocks: 8, Groups: []KVGroup{sw(MaxSeqLen)}},
		"chunk 1":                     {NumBlocks: 8, Groups: []KVGroup{fullGroup(), chunked(1)}},
		"MaxGroups":                   {NumBlocks: 8, Groups: make([]KVGroup, MaxGroups)},
		"groups, events, dup parents": {NumBlocks: 8, Groups: []KVGroup{fullGroup(), sw(8)}, Events: EventOptions{Enabled: true}, MatchDuplicateParents: true},
	} {
		m, err := New(c)
		require.NoError(t, err, name)
		require.Equal(t, max(1, len(c.Groups)), m.NumGroups(), name)
	}
}

// Page-size reconciliation: a block is sized for the largest group.
func TestBlockBytes(t *testing.T) {
	c := Config{NumBlocks: 8, BlockSize: 16, Groups: []KVGroup{{BytesPerToken: 4096}, {Kind: SlidingWindow, Window: 64, BytesPerToken: 1024}}}
	require.Equal(t, int64(16*4096), c.BlockBytes())
	require.Equal(t, int64(0), Config{NumBlocks: 8}.BlockBytes())
	require.Equal(t, int64(DefaultBlockSize*7), Config{Groups: []KVGroup{{BytesPerToken: 7}}}.BlockBytes())
	require.Equal(t, int64(0), Config{Groups: []KVGroup{{BytesPerToken: -7}}}.BlockBytes(), "an invalid config sizes nothing")
}

// groupFixture: full attention and a 4-token window over blocks of 2, holding a
// started sequence (10 tokens, 9 computed plus one appended; the window released
// positions 0..3 at the decode of position 8), one ready to decode, one not
// started and a freed one.
type groupFixture struct {
	m          *Manager
	a, r, u, d SeqID
}

func newGroupFixture(t testing.TB) *groupFixture {
	m := newMgr(t, 32, 2, eventsOn(false), func(c *Config) { c.Groups = []KVGroup{fullGroup(), sw(4)} })
	f := &groupFixture{m: m}
	f.a, _ = prefill(t, m, span(0, 8), SeqOptions{})
	decode(t, m, f.a, 8)
	require.NoError(t, m.Append(f.a, 9))
	f.r, _ = prefill(t, m, span(100, 5), SeqOptions{})
	var err error
	f.u, err = m.Add(span(0, 9), SeqOptions{})
	require.NoError(t, err)
	f.d, err = m.Add(span(400, 3), SeqOptions{})
	require.NoError(t, err)
	require.NoError(t, m.Free(f.d))
	return f
}

type groupMisuse struct {
	name    string
	want    error
	changes bool
	call    func(f *groupFixture) error
}

func groupMisuses() []groupMisuse {
	rows := []groupMisuse{
		{"Pin refuses groups", ErrInvalidConfig, false, func(f *groupFixture) error { _, _, err := f.m.Pin(span(0, 4), SeqOptions{}); return err }},
		{"SwapOut without a host tier", ErrNoHostTier, false, func(f *groupFixture) error { _, err := f.m.SwapOut(f.a, nil); return err }},
		{"SlotMappingGroup released position", ErrInvalidArgument, false, func(f *groupFixture) error {
			_, err := f.m.SlotMappingGroup(f.a, 1, 2, 8, nil) // released at 8, window 4: positions < 4
			return err
		}},
		{"SlotMapping of group 0 (full) from 0", nil, false, func(f *groupFixture) error { _, err := f.m.SlotMapping(f.a, 0, 8, nil); return err }},
		{"SlotMappingGroup window", nil, false, func(f *groupFixture) error { _, err := f.m.SlotMappingGroup(f.a, 1, 4, 8, nil); return err }},
		{"SlotMappingGroup empty range before the window", nil, false, func(f *groupFixture) error {
			_, err := f.m.SlotMappingGroup(f.a, 1, 2, 2, nil)
			return err
		}},
		{"DecodeSlotsGroup short slots", ErrInvalidArgument, false, func(f *groupFixture) error { return f.m.DecodeSlotsGroup([]SeqID{f.r}, 1, nil) }},
		{"DecodeSlotsGroup nothing reserved", ErrInvalidArgument, false, func(f *groupFixture) error {
			return f.m.DecodeSlotsGroup([]SeqID{f.r}, 1, make([]int64, 1))
		}},
		{"DecodeSlotsGroup unknown", ErrUnknownSequence, false, func(f *groupFixture) error {
			return f.m.DecodeSlotsGroup([]SeqID{f.d}, 1, make([]int64, 1))
		}},
		{"Rollback into the released window", ErrInvalidArgument, false, func(f *groupFixture) error { return f.m.Rollback(f.a, 4) }},
		{"Rollback within the window", nil, true, func(f *groupFixture) error { return f.m.Rollback(f.a, 3) }},
		{"BlockTablesGroup unknown id", ErrUnknownSequence, false, func(f *groupFixture) error {
			_, err := f.m.BlockTablesGroup([]SeqID{f.a, f.d}, 1, nil)
			return err
		}},
		{"BlockTableGroup unknown id", ErrUnknownSequence, false, func(f *groupFixture) error { _, err := f.m.BlockTableGroup(f.d, 1, nil); return err }},
		{"SlotMappingGroup unknown id", ErrUnknownSequence, false, func(f *groupFixture) error {
			_, err := f.m.SlotMappingGroup(f.d, 1, 0, 0, nil)
			return err
		}},
	}
	for _, g := range []int{-1, 2, math.MinInt, math.MaxInt, MaxGroups} {
		rows = append(rows,
			groupMisuse{fmt.Sprintf("BlockTableGroup g=%d", g), ErrInvalidArgument, false, func(f *groupFixture) error {
				_, err := f.m.BlockTableGroup(f.a, g, nil)
				return err
			}},
			groupMisuse{fmt.Sprintf("BlockTablesGroup g=%d", g), ErrInvalidArgument, false, func(f *groupFixture) error {
				_, err := f.m.BlockTablesGroup([]SeqID{f.a}, g, nil)
				return err
			}},
			groupMisuse{fmt.Sprintf("SlotMappingGroup g=%d", g), ErrInvalidArgument, false, func(f *groupFixture) error {
				_, err := f.m.SlotMappingGroup(f.a, g, 4, 8, nil)
				return err
			}},
			groupMisuse{fmt.Sprintf("DecodeSlotsGroup g=%d", g), ErrInvalidArgument, false, func(f *groupFixture) error {
				return f.m.DecodeSlotsGroup(nil, g, nil)
			}})
	}
	for _, v := range ints {
		rows = append(rows,
			groupMisuse{fmt.Sprintf("SlotMappingGroup start=%d", v), validOr(v == 0), false, func(f *groupFixture) error {
				_, err := f.m.SlotMappingGroup(f.a, 1, v+4, 8, nil)
				return err
			}},
			groupMisuse{fmt.Sprintf("SlotMappingGroup end=%d", v), validOr(false), false, func(f *groupFixture) error {
				_, err := f.m.SlotMappingGroup(f.a, 1, 4, v, nil)
				return err
			}},
			groupMisuse{fmt.Sprintf("Rollback n=%d", v), validOr(v == 0), false, func(f *groupFixture) error { return f.m.Rollback(f.a, v) }})
	}
	return rows
}

func validOr(ok bool) error {
	if ok {
		return nil
	}
	return ErrInvalidArgument
}

func TestGroupMisuse(t *testing.T) {
	for _, c := range groupMisuses() {
		t.Run(c.name, func(t *testing.T) {
			f := newGroupFixture(t)
			inv(t, f.m)
			before := takeSnapshot(f.m)
			err := c.call(f)
			if c.want == nil {
				require.NoError(t, err)
			} else {
				require.True(t, errors.Is(err, c.want), "got %v, want %v", err, c.want)
			}
			if !c.changes {
				after := takeSnapshot(f.m)
				if !reflect.DeepEqual(before, after) {
					require.Equal(t, before, after, "the call changed the manager")
				}
			}
			inv(t, f.m)
		})
	}
}
