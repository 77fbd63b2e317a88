package pagedpub

import (
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// decodeFixture keeps n sequences decoding in a pool that is full of cached blocks,
// so each step both stores blocks (a sequence completes one every 16 tokens) and
// evicts them (restarted sequences take blocks that freed ones left cached): the
// steady state of a busy engine, with n/16 BlockStored and about as many
// BlockRemoved per step.
type decodeFixture struct {
	m      *paged.Manager
	ids    []paged.SeqID
	age    []int // decode steps of each sequence since its start
	toks   []int32
	slots  []int64
	copies []paged.BlockCopy
	prompt []int32
	starts int
}

const (
	fixturePrompt = 100
	fixtureSteps  = 300 // decode steps before a sequence finishes and is replaced
)

func newDecodeFixture(tb testing.TB, n int, h prefix.Hasher) *decodeFixture {
	tb.Helper()
	return newDecodeFixtureEvents(tb, n, h, true)
}

func newDecodeFixtureEvents(tb testing.TB, n int, h prefix.Hasher, events bool) *decodeFixture {
	tb.Helper()
	perSeq := (fixturePrompt+fixtureSteps)/16 + 2
	m, err := paged.New(paged.Config{NumBlocks: n * perSeq * 5 / 4, Hasher: h, DisableWatermark: true,
		Events: paged.EventOptions{Enabled: events}})
	if err != nil {
		tb.Fatal(err)
	}
	f := &decodeFixture{m: m, ids: make([]paged.SeqID, n), age: make([]int, n), toks: make([]int32, n),
		slots: make([]int64, n), prompt: make([]int32, fixturePrompt)}
	for i := range n {
		f.start(tb, i)
		f.age[i] = i * fixtureSteps / n // staggered: a few sequences restart each step
	}
	return f
}

// start replaces sequence i by a fresh one with a new prompt, prefilled.
func (f *decodeFixture) start(tb testing.TB, i int) {
	if f.ids[i] != 0 {
		if err := f.m.Free(f.ids[i]); err != nil {
			tb.Fatal(err)
		}
	}
	f.starts++
	for j := range f.prompt {
		f.prompt[j] = int32((f.starts*7919 + j*31) % 151936)
	}
	id, err := f.m.Add(f.prompt, paged.SeqOptions{Capacity: fixturePrompt + fixtureSteps + 1})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.m.Reserve(id, fixturePrompt, 0, nil); err != nil {
		tb.Fatal(err)
	}
	if err := f.m.MarkComputed(id, fixturePrompt); err != nil {
		tb.Fatal(err)
	}
	f.ids[i], f.age[i] = id, 0
}

// decodeStep is one decode step of every sequence (DecodeStep, then
// MarkComputedBatch), then the restart of the ones that finished.
func (f *decodeFixture) decodeStep(tb testing.TB) {
	for i := range f.toks {
		f.toks[i] = int32(f.age[i] + i)
	}
	var err error
	if f.copies, err = f.m.DecodeStep(f.ids, f.toks, 0, f.slots, f.copies[:0]); err != nil {
		tb.Fatal(err)
	}
	if err := f.m.MarkComputedBatch(f.ids, 1); err != nil {
		tb.Fatal(err)
	}
	for i := range f.ids {
		if f.age[i]++; f.age[i] >= fixtureSteps {
			f.start(tb, i)
		}
	}
}
