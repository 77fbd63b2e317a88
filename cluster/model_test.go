package cluster

import (
	"maps"
	"slices"
)

// model is the reference semantics of an Index, written as plainly as possible. The
// contract suite checks every backend against it.
type model struct {
	engines map[EngineID]*modelEngine
}

type tierKey struct {
	h    uint64
	tier Tier
}

type modelEngine struct {
	info  EngineInfo
	fresh bool
	held  map[tierKey]int // counts, saturating at 255
}

func newModel() *model { return &model{engines: map[EngineID]*modelEngine{}} }

func (m *model) engine(id EngineID) *modelEngine {
	e := m.engines[id]
	if e == nil {
		e = &modelEngine{fresh: true, held: map[tierKey]int{}}
		m.engines[id] = e
	}
	return e
}

func (m *model) apply(b Batch) ApplyResult {
	e := m.engine(b.Engine)
	if e.info.State == EngineStale {
		return ApplyResult{Refused, e.info.Next}
	}
	if !e.fresh && b.Seq < e.info.Next {
		return ApplyResult{Duplicate, e.info.Next}
	}
	if !e.fresh && b.Seq > e.info.Next {
		e.info.State = EngineBehind
		e.info.GapEnd = max(e.info.GapEnd, b.Seq)
		return ApplyResult{Gap, e.info.Next}
	}
	e.fresh = false
	for _, ev := range b.Events {
		switch ev.Kind {
		case Stored:
			for _, h := range ev.Hashes {
				k := tierKey{h, ev.Tier}
				e.held[k] = min(255, e.held[k]+1)
			}
		case Removed:
			for _, h := range ev.Hashes {
				k := tierKey{h, ev.Tier}
				switch c := e.held[k]; {
				case c == 0:
				case c == 1 || c == 255:
					delete(e.held, k)
				default:
					e.held[k] = c - 1
				}
			}
		case Cleared:
			clear(e.held)
		}
	}
	e.info.Next = b.Seq + 1
	if e.info.State == EngineBehind && e.info.Next <= e.info.GapEnd {
		return ApplyResult{Applied, e.info.Next}
	}
	e.info.State, e.info.GapEnd = EngineLive, 0
	return ApplyResult{Applied, e.info.Next}
}

func (m *model) drop(id EngineID) { delete(m.engines, id) }

func (m *model) markStale(id EngineID) { m.engine(id).info.State = EngineStale }

func (m *model) resync(id EngineID, next uint64) {
	e := m.engine(id)
	if !e.fresh && next == e.info.Next {
		e.info.State = EngineLive
		if e.info.GapEnd >= next {
			e.info.State = EngineBehind
		}
		return
	}
	e.info, e.fresh = EngineInfo{State: EngineLive, Next: next}, false
	clear(e.held)
}

func (m *model) info(id EngineID) EngineInfo {
	if e := m.engines[id]; e != nil {
		return e.info
	}
	return EngineInfo{}
}

func (m *model) match(hashes []uint64) map[EngineID]EngineMatch {
	out := map[EngineID]EngineMatch{}
	for id, e := range m.engines {
		if e.info.State != EngineLive {
			continue
		}
		var em EngineMatch
		for _, h := range hashes {
			g, c := e.held[tierKey{h, TierGPU}] > 0, e.held[tierKey{h, TierCPU}] > 0
			if !g && !c {
				break
			}
			em.Blocks++
			if g {
				em.GPUBlocks++
			}
		}
		if em.Blocks > 0 {
			em.Engine = id
			out[id] = em
		}
	}
	return out
}

// engineIDs returns the model's engines, sorted.
func (m *model) engineIDs() []EngineID { return slices.Sorted(maps.Keys(m.engines)) }

// asMap turns a Match result into a map, failing on duplicate engines.
func asMap(ms []EngineMatch) (map[EngineID]EngineMatch, bool) {
	out := make(map[EngineID]EngineMatch, len(ms))
	for _, m := range ms {
		if _, dup := out[m.Engine]; dup {
			return nil, false
		}
		out[m.Engine] = m
	}
	return out, true
}
