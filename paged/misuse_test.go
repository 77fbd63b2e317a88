package paged

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// The misuse suite: one row per misuse reported against the library plus the
// extremes of every integer parameter of every exported method. Each row runs on a
// fresh fixture and asserts the sentinel error (errors.Is), that a failed call left
// the manager exactly as it was (a full snapshot: sequences, tables, both free
// queues, every block, the counters, the event queue) and clean invariants. Rows
// whose call is valid say whether it may change the manager.

// fixture: a manager with a host tier that also caches prefixes (write-back),
// partial-block reuse, events and the clock at 5, holding one sequence in each
// state and a pin.
type fixture struct {
	m   *Manager
	a   SeqID // started: 6 tokens computed plus 1 appended (ready to reserve 1)
	r   SeqID // ready to decode: 5 of 5 tokens computed
	u   SeqID // added, not started: 5 tokens
	w   SeqID // swapped out: 5 tokens computed
	d   SeqID // freed
	pin PinID // pins a's first block
	up  PinID // unpinned
}

func newFixture(t testing.TB) *fixture {
	m := newMgr(t, 16, 4, eventsOn(false), func(c *Config) {
		c.HostBlocks, c.HostCache.Policy, c.PartialBlockReuse = 8, WriteBack, true
	})
	f := &fixture{m: m}
	require.NoError(t, m.SetClock(5))
	f.a, _ = prefill(t, m, span(0, 6), SeqOptions{Priority: 7, PriorityDuration: 3})
	require.NoError(t, m.Append(f.a, 6))
	f.r, _ = prefill(t, m, span(100, 5), SeqOptions{})
	var err error
	f.u, err = m.Add(span(200, 5), SeqOptions{})
	require.NoError(t, err)
	f.w, _ = prefill(t, m, span(300, 5), SeqOptions{})
	_, err = m.SwapOut(f.w, nil)
	require.NoError(t, err)
	f.d, err = m.Add(span(400, 3), SeqOptions{})
	require.NoError(t, err)
	require.NoError(t, m.Free(f.d))
	f.pin, _, err = m.Pin(span(0, 4), SeqOptions{})
	require.NoError(t, err)
	f.up, _, err = m.Pin(span(100, 4), SeqOptions{})
	require.NoError(t, err)
	require.NoError(t, m.Unpin(f.up))
	return f
}

type misuse struct {
	name    string
	want    error // nil: the call is valid
	changes bool  // a valid call may change the manager
	call    func(f *fixture) error
}

// ints are the extremes every integer parameter is tried with.
var ints = []int{0, -1, math.MinInt, math.MaxInt, math.MaxInt - 40}

// intRows makes one row per extreme value of one parameter; want says what each
// value must give.
func intRows(name string, want func(v int) (error, bool), call func(f *fixture, v int) error) []misuse {
	var rows []misuse
	for _, v := range ints {
		w, ch := want(v)
		rows = append(rows, misuse{fmt.Sprintf("%s=%d", name, v), w, ch, func(f *fixture) error { return call(f, v) }})
	}
	return rows
}

// validIf: nil (with changes) when ok, else ErrInvalidArgument.
func validIf(ok func(v int) bool, changes bool) func(int) (error, bool) {
	return func(v int) (error, bool) {
		if ok(v) {
			return nil, changes
		}
		return ErrInvalidArgument, false
	}
}

func is0(v int) bool { return v == 0 }

func misuses() []misuse {
	slots := make([]int64, 2)
	rows := []misuse{
		// Swapped-out sequences: every device operation says ErrSwapped.
		{"MarkComputedBatch swapped", ErrSwapped, false, func(f *fixture) error { return f.m.MarkComputedBatch([]SeqID{f.w}, 0) }},
		{"MarkComputedBatch mixed with swapped", ErrSwapped, false, func(f *fixture) error { return f.m.MarkComputedBatch([]SeqID{f.a, f.w}, 0) }},
		{"MarkComputed swapped", ErrSwapped, false, func(f *fixture) error { return f.m.MarkComputed(f.w, 0) }},
		{"Reserve swapped", ErrSwapped, false, func(f *fixture) error { _, err := f.m.Reserve(f.w, 1, 0, nil); return err }},
		{"Admit swapped", ErrSwapped, false, func(f *fixture) error { _, err := f.m.Admit(f.w, 1, 0, nil); return err }},
		{"DecodeStep swapped", ErrSwapped, false, func(f *fixture) error {
			_, err := f.m.DecodeStep([]SeqID{f.r, f.w}, []int32{1, 1}, 0, slots, nil)
			return err
		}},
		{"Rollback swapped", ErrSwapped, false, func(f *fixture) error { return f.m.Rollback(f.w, 0) }},
		{"Fork swapped", ErrSwapped, false, func(f *fixture) error { _, err := f.m.Fork(f.w); return err }},
		{"SlotMapping swapped", ErrSwapped, false, func(f *fixture) error { _, err := f.m.SlotMapping(f.w, 0, 0, nil); return err }},
		{"BlockTable swapped", ErrSwapped, false, func(f *fixture) error { _, err := f.m.BlockTable(f.w, nil); return err }},
		{"BlockTables swapped", ErrSwapped, false, func(f *fixture) error { _, err := f.m.BlockTables([]SeqID{f.a, f.w}, nil); return err }},
		{"SwapOut swapped", ErrSwapped, false, func(f *fixture) error { _, err := f.m.SwapOut(f.w, nil); return err }},
		{"Append swapped is allowed", nil, true, func(f *fixture) error { return f.m.Append(f.w, 1) }},
		{"State swapped is allowed", nil, false, func(f *fixture) error { _, err := f.m.State(f.w); return err }},
		{"SeqStates swapped is allowed", nil, false, func(f *fixture) error { _, err := f.m.SeqStates([]SeqID{f.w}, nil); return err }},
		{"CachedPrefix swapped is allowed", nil, false, func(f *fixture) error { _, err := f.m.CachedPrefix(f.w); return err }},
		{"SwapInBlocks swapped", nil, false, func(f *fixture) error { _, err := f.m.SwapInBlocks(f.w); return err }},
		{"SwapIn on device", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.SwapIn(f.a, nil); return err }},
		// Integer overflow.
		{"Reserve lookahead MaxInt-40", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.Reserve(f.a, 0, math.MaxInt-40, nil); return err }},
		{"Reserve n MaxInt", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.Reserve(f.a, math.MaxInt, 0, nil); return err }},
		{"MarkComputed MaxInt", ErrInvalidArgument, false, func(f *fixture) error { return f.m.MarkComputed(f.a, math.MaxInt) }},
		{"MarkComputedBatch MaxInt", ErrInvalidArgument, false, func(f *fixture) error { return f.m.MarkComputedBatch([]SeqID{f.a}, math.MaxInt) }},
		{"DecodeStep lookahead MaxInt", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.DecodeStep([]SeqID{f.r}, []int32{1}, math.MaxInt, slots, nil)
			return err
		}},
		{"CanAdmit MaxInt prompt", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.CanAdmit(math.MaxInt, 0); return err }},
		{"CanAdmit MaxInt lookahead", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.CanAdmit(1, math.MaxInt); return err }},
		{"CanAdmit empty prompt", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.CanAdmit(0, math.MaxInt); return err }},
		{"CanAdmit negative prompt", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.CanAdmit(-100, 0); return err }},
		{"CanAdmit above the pool answers never", nil, false, func(f *fixture) error {
			if a, err := f.m.CanAdmit(MaxSeqLen, MaxSeqLen); err != nil || a != AdmitNever {
				return fmt.Errorf("%v %v", a, err)
			}
			return nil
		}},
		// Unbounded allocation.
		{"Add Capacity 1<<40", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.Add(span(0, 3), SeqOptions{Capacity: 1 << 40}); return err }},
		{"Add Capacity MaxSeqLen preallocates at most the pool", nil, true, func(f *fixture) error {
			id, err := f.m.Add(span(0, 3), SeqOptions{Capacity: MaxSeqLen})
			if s, _ := f.m.seq(id); err == nil && cap(s.tokens) > f.m.tokenCap {
				return fmt.Errorf("preallocated %d tokens", cap(s.tokens))
			}
			return err
		}},
		// Multimodal items outside the prompt or overlapping.
		{"Add item outside the prompt", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.Add(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 5, Length: 100}}})
			return err
		}},
		{"LookupPrompt item outside the prompt", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.LookupPrompt(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 5, Length: 100}}})
			return err
		}},
		{"Add overlapping items", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.Add(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 0, Length: 4}, {ID: "y", Offset: 2, Length: 4}}})
			return err
		}},
		{"LookupPrompt overlapping items", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.LookupPrompt(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 0, Length: 4}, {ID: "y", Offset: 3, Length: 1}}})
			return err
		}},
		{"Add unsorted items", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.Add(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 6, Length: 1}, {ID: "y", Offset: 2, Length: 1}}})
			return err
		}},
		{"Add adjacent items", nil, true, func(f *fixture) error {
			_, err := f.m.Add(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 0, Length: 4}, {ID: "y", Offset: 4, Length: 6}}})
			return err
		}},
		{"Add empty prompt", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.Add(nil, SeqOptions{}); return err }},
		// Batch shapes and states.
		{"DecodeStep short tokens", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.DecodeStep([]SeqID{f.r}, nil, 0, slots, nil)
			return err
		}},
		{"DecodeStep short slots", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.DecodeStep([]SeqID{f.r}, []int32{1}, 0, nil, nil)
			return err
		}},
		{"DecodeStep repeated id", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.DecodeStep([]SeqID{f.r, f.r}, []int32{1, 1}, 0, slots, nil)
			return err
		}},
		{"DecodeStep not computed", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.DecodeStep([]SeqID{f.r, f.a}, []int32{1, 1}, 0, slots, nil)
			return err
		}},
		{"DecodeStep unstarted", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.DecodeStep([]SeqID{f.u}, []int32{1}, 0, slots, nil)
			return err
		}},
		{"MarkComputedBatch repeated id", ErrInvalidArgument, false, func(f *fixture) error { return f.m.MarkComputedBatch([]SeqID{f.a, f.a}, 0) }},
		{"Admit started", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.Admit(f.a, 1, 0, nil); return err }},
		{"Reserve past the tokens", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.Reserve(f.a, 2, 0, nil); return err }},
		{"Reserve beyond the pool", ErrNoSpace, false, func(f *fixture) error { _, err := f.m.Reserve(f.a, 1, MaxSeqLen, nil); return err }},
		{"ResetPrefixCache in use", ErrCacheInUse, false, func(f *fixture) error { return f.m.ResetPrefixCache() }},
	}
	// Unknown ids, for every method that takes one.
	for _, bad := range []struct {
		name string
		id   func(f *fixture) SeqID
	}{
		{"freed", func(f *fixture) SeqID { return f.d }},
		{"zero", func(*fixture) SeqID { return 0 }},
		{"max", func(*fixture) SeqID { return math.MaxUint64 }},
		{"other generation", func(f *fixture) SeqID { return f.a + 1<<32 }},
	} {
		for name, call := range map[string]func(*Manager, SeqID) error{
			"Reserve": func(m *Manager, id SeqID) error { _, err := m.Reserve(id, 1, 0, nil); return err },
			"Admit":   func(m *Manager, id SeqID) error { _, err := m.Admit(id, 1, 0, nil); return err },
			"DecodeStep": func(m *Manager, id SeqID) error {
				_, err := m.DecodeStep([]SeqID{id}, []int32{1}, 0, slots, nil)
				return err
			},
			"MarkComputed":      func(m *Manager, id SeqID) error { return m.MarkComputed(id, 0) },
			"MarkComputedBatch": func(m *Manager, id SeqID) error { return m.MarkComputedBatch([]SeqID{id}, 0) },
			"Append":            func(m *Manager, id SeqID) error { return m.Append(id, 1) },
			"Rollback":          func(m *Manager, id SeqID) error { return m.Rollback(id, 0) },
			"Fork":              func(m *Manager, id SeqID) error { _, err := m.Fork(id); return err },
			"Free":              func(m *Manager, id SeqID) error { return m.Free(id) },
			"CachedPrefix":      func(m *Manager, id SeqID) error { _, err := m.CachedPrefix(id); return err },
			"State":             func(m *Manager, id SeqID) error { _, err := m.State(id); return err },
			"SeqStates":         func(m *Manager, id SeqID) error { _, err := m.SeqStates([]SeqID{id}, nil); return err },
			"BlockTable":        func(m *Manager, id SeqID) error { _, err := m.BlockTable(id, nil); return err },
			"BlockTables":       func(m *Manager, id SeqID) error { _, err := m.BlockTables([]SeqID{id}, nil); return err },
			"SlotMapping":       func(m *Manager, id SeqID) error { _, err := m.SlotMapping(id, 0, 0, nil); return err },
			"SwapOut":           func(m *Manager, id SeqID) error { _, err := m.SwapOut(id, nil); return err },
			"SwapIn":            func(m *Manager, id SeqID) error { _, err := m.SwapIn(id, nil); return err },
			"SwapInBlocks":      func(m *Manager, id SeqID) error { _, err := m.SwapInBlocks(id); return err },
			"CanSwapIn":         func(m *Manager, id SeqID) error { _, err := m.CanSwapIn(id, 0); return err },
			"CachedPrefixTiers": func(m *Manager, id SeqID) error { _, err := m.CachedPrefixTiers(id); return err },
		} {
			rows = append(rows, misuse{name + " " + bad.name + " id", ErrUnknownSequence, false,
				func(f *fixture) error { return call(f.m, bad.id(f)) }})
		}
	}
	// The extremes of every integer parameter.
	rows = append(rows, intRows("Add Capacity", validIf(is0, true), func(f *fixture, v int) error {
		_, err := f.m.Add(span(0, 10), SeqOptions{Capacity: v})
		return err
	})...)
	rows = append(rows, intRows("Add MM Offset", validIf(is0, true), func(f *fixture, v int) error {
		_, err := f.m.Add(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: v, Length: 1}}})
		return err
	})...)
	rows = append(rows, intRows("Add MM Length", validIf(func(int) bool { return false }, false), func(f *fixture, v int) error {
		_, err := f.m.Add(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 0, Length: v}}})
		return err
	})...)
	rows = append(rows, intRows("LookupPrompt Capacity", validIf(is0, false), func(f *fixture, v int) error {
		_, err := f.m.LookupPrompt(span(0, 10), SeqOptions{Capacity: v})
		return err
	})...)
	rows = append(rows, intRows("LookupPrompt MM Offset", validIf(is0, false), func(f *fixture, v int) error {
		_, err := f.m.LookupPrompt(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: v, Length: 1}}})
		return err
	})...)
	rows = append(rows, intRows("LookupPrompt MM Length", validIf(func(int) bool { return false }, false), func(f *fixture, v int) error {
		_, err := f.m.LookupPrompt(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 0, Length: v}}})
		return err
	})...)
	rows = append(rows, intRows("CanAdmit promptLen", validIf(func(int) bool { return false }, false), func(f *fixture, v int) error {
		_, err := f.m.CanAdmit(v, 0)
		return err
	})...)
	rows = append(rows, intRows("CanAdmit lookahead", validIf(is0, false), func(f *fixture, v int) error {
		_, err := f.m.CanAdmit(1, v)
		return err
	})...)
	rows = append(rows, intRows("Admit maxNew", validIf(func(v int) bool { return v > 0 }, true), func(f *fixture, v int) error {
		_, err := f.m.Admit(f.u, v, 0, nil)
		return err
	})...)
	rows = append(rows, intRows("Admit lookahead", validIf(is0, true), func(f *fixture, v int) error {
		_, err := f.m.Admit(f.u, 1, v, nil)
		return err
	})...)
	rows = append(rows, intRows("Reserve n", validIf(func(int) bool { return false }, false), func(f *fixture, v int) error {
		_, err := f.m.Reserve(f.a, v, 0, nil)
		return err
	})...)
	rows = append(rows, intRows("Reserve lookahead", validIf(is0, true), func(f *fixture, v int) error {
		_, err := f.m.Reserve(f.a, 1, v, nil)
		return err
	})...)
	rows = append(rows, intRows("DecodeStep lookahead", validIf(is0, true), func(f *fixture, v int) error {
		_, err := f.m.DecodeStep([]SeqID{f.r}, []int32{1}, v, slots, nil)
		return err
	})...)
	rows = append(rows, intRows("Rollback n", validIf(is0, false), func(f *fixture, v int) error { return f.m.Rollback(f.a, v) })...)
	rows = append(rows, intRows("MarkComputed n", validIf(is0, false), func(f *fixture, v int) error { return f.m.MarkComputed(f.a, v) })...)
	rows = append(rows, intRows("MarkComputedBatch n", validIf(is0, false), func(f *fixture, v int) error {
		return f.m.MarkComputedBatch([]SeqID{f.a, f.r}, v)
	})...)
	rows = append(rows, intRows("SlotMapping start", validIf(is0, false), func(f *fixture, v int) error {
		_, err := f.m.SlotMapping(f.a, v, 6, nil)
		return err
	})...)
	rows = append(rows, intRows("SlotMapping end", validIf(is0, false), func(f *fixture, v int) error {
		_, err := f.m.SlotMapping(f.a, 0, v, nil)
		return err
	})...)
	rows = append(rows, tierMisuses()...)
	for _, v := range []int32{0, -1, math.MinInt32, math.MaxInt32, math.MaxInt32 - 40} {
		rows = append(rows, misuse{fmt.Sprintf("BlockInfo id=%d", v), nil, false, func(f *fixture) error {
			refs, cached := f.m.BlockInfo(v)
			if v != 0 && (refs != 0 || cached) {
				return fmt.Errorf("BlockInfo(%d) = %d, %v", v, refs, cached)
			}
			return nil
		}})
	}
	return rows
}

func TestMisuse(t *testing.T) {
	for _, c := range misuses() {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
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

// Capacity preallocates at most MaxPreallocTokens, whatever the pool holds (an Add
// on a pool of millions of tokens used to allocate up to 1 GiB).
func TestCapacityPreallocBounded(t *testing.T) {
	m := newMgr(t, 1<<16, 64) // 4M tokens
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	id, err := m.Add(span(0, 3), SeqOptions{Capacity: MaxSeqLen})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	s, err := m.seq(id)
	require.NoError(t, err)
	require.Equal(t, MaxPreallocTokens, cap(s.tokens))
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20))
	require.NoError(t, m.Append(id, span(10, MaxPreallocTokens)...), "Append grows past it")
}
