package paged

import (
	"fmt"
	"math"

	"github.com/pagedkv/pagedkv/prefix"
)

// tierMisuses are the misuse rows of the methods and options added for the host
// prefix cache, retention priorities, pins and the vLLM options.
func tierMisuses() []misuse {
	rows := []misuse{
		{"Pin empty prompt", ErrInvalidArgument, false, func(f *fixture) error { _, _, err := f.m.Pin(nil, SeqOptions{}); return err }},
		{"Pin bad item", ErrInvalidArgument, false, func(f *fixture) error {
			_, _, err := f.m.Pin(span(0, 4), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 3, Length: 9}}})
			return err
		}},
		{"Pin not cached", ErrNotCached, false, func(f *fixture) error { _, _, err := f.m.Pin(span(900, 8), SeqOptions{}); return err }},
		{"Pin other salt", ErrNotCached, false, func(f *fixture) error {
			_, _, err := f.m.Pin(span(0, 4), SeqOptions{CacheSalt: "s"})
			return err
		}},
		{"Pin beyond the limit", ErrPinLimit, false, func(f *fixture) error {
			f.m.cfg.MaxPinnedFraction = 1.0 / 16 // one block: a's first, already pinned
			defer func() { f.m.cfg.MaxPinnedFraction = DefaultMaxPinnedFraction }()
			_, _, err := f.m.Pin(span(100, 4), SeqOptions{})
			return err
		}},
		{"Pin the same blocks again", nil, true, func(f *fixture) error {
			_, n, err := f.m.Pin(span(0, 7), SeqOptions{})
			if err == nil && n != 4 {
				return fmt.Errorf("pinned %d tokens", n)
			}
			return err
		}},
		{"Unpin", nil, true, func(f *fixture) error { return f.m.Unpin(f.pin) }},
		{"Unpin twice", ErrUnknownPin, false, func(f *fixture) error { return f.m.Unpin(f.up) }},
		{"Unpin zero", ErrUnknownPin, false, func(f *fixture) error { return f.m.Unpin(0) }},
		{"Unpin max", ErrUnknownPin, false, func(f *fixture) error { return f.m.Unpin(math.MaxUint64) }},
		{"Unpin other generation", ErrUnknownPin, false, func(f *fixture) error { return f.m.Unpin(f.pin + 1<<32) }},
		{"SetClock now", nil, false, func(f *fixture) error { return f.m.SetClock(5) }},
		{"SetClock MaxTime", nil, true, func(f *fixture) error { return f.m.SetClock(MaxTime) }},
		{"SetClock past MaxTime", ErrInvalidArgument, false, func(f *fixture) error { return f.m.SetClock(MaxTime + 1) }},
		{"SetClock backwards", ErrInvalidArgument, false, func(f *fixture) error { return f.m.SetClock(4) }},
		{"CanSwapIn on device", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.CanSwapIn(f.a, 0); return err }},
		{"CanSwapIn unstarted", ErrInvalidArgument, false, func(f *fixture) error { _, err := f.m.CanSwapIn(f.u, 0); return err }},
		{"CanSwapIn above the pool answers never", nil, false, func(f *fixture) error {
			if a, err := f.m.CanSwapIn(f.w, MaxSeqLen); err != nil || a != AdmitNever {
				return fmt.Errorf("%v %v", a, err)
			}
			return nil
		}},
		{"LookupPromptTiers bad item", ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.LookupPromptTiers(span(0, 10), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: 5, Length: 100}}})
			return err
		}},
		{"LookupPromptTiers empty", nil, false, func(f *fixture) error {
			if h, err := f.m.LookupPromptTiers(nil, SeqOptions{}); err != nil || h != (PrefixHit{}) {
				return fmt.Errorf("%+v %v", h, err)
			}
			return nil
		}},
		{"CachedPrefixTiers swapped is allowed", nil, false, func(f *fixture) error { _, err := f.m.CachedPrefixTiers(f.w); return err }},
	}
	// SetClock's extremes are all invalid: the clock is at 5, so 0 and -1 go back.
	rows = append(rows, intRows("SetClock", validIf(func(int) bool { return false }, false), func(f *fixture, v int) error {
		return f.m.SetClock(int64(v))
	})...)
	rows = append(rows, intRows("CanSwapIn lookahead", validIf(is0, false), func(f *fixture, v int) error {
		_, err := f.m.CanSwapIn(f.w, v)
		return err
	})...)
	prio := func(v int) bool { return v >= MinPriority && v <= MaxPriority }
	rows = append(rows, intRows("Add Priority", validIf(prio, true), func(f *fixture, v int) error {
		_, err := f.m.Add(span(0, 10), SeqOptions{Priority: v})
		return err
	})...)
	rows = append(rows, intRows("Add PriorityDuration", validIf(is0, true), func(f *fixture, v int) error {
		_, err := f.m.Add(span(0, 10), SeqOptions{PriorityDuration: int64(v)})
		return err
	})...)
	rows = append(rows, intRows("LookupPrompt Priority", validIf(prio, false), func(f *fixture, v int) error {
		_, err := f.m.LookupPrompt(span(0, 10), SeqOptions{Priority: v})
		return err
	})...)
	rows = append(rows, intRows("Pin Priority", validIf(prio, true), func(f *fixture, v int) error {
		_, _, err := f.m.Pin(span(0, 4), SeqOptions{Priority: v})
		return err
	})...)
	for _, p := range []int{MinPriority, MaxPriority} {
		rows = append(rows, misuse{fmt.Sprintf("Add Priority %d", p), nil, true, func(f *fixture) error {
			_, err := f.m.Add(span(0, 10), SeqOptions{Priority: p, PriorityDuration: MaxTime})
			return err
		}}, misuse{fmt.Sprintf("Add Priority %d", p+int(math.Copysign(1, float64(p)))), ErrInvalidArgument, false, func(f *fixture) error {
			_, err := f.m.Add(span(0, 10), SeqOptions{Priority: p + int(math.Copysign(1, float64(p)))})
			return err
		}})
	}
	rows = append(rows, misuse{"Add PriorityDuration past MaxTime", ErrInvalidArgument, false, func(f *fixture) error {
		_, err := f.m.Add(span(0, 10), SeqOptions{PriorityDuration: MaxTime + 1})
		return err
	}})
	return rows
}
