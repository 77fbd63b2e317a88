package paged

// Stats is a snapshot of the manager's counters.
type Stats struct {
	NumBlocks    int
	UsedBlocks   int     // blocks referenced by live sequences
	FreeBlocks   int     // blocks in the free queue (cached ones included)
	CachedBlocks int     // blocks carrying a hash (in use or free)
	Usage        float64 // UsedBlocks / NumBlocks
	Sequences    int     // live sequences

	// Prefix-cache queries and hits in tokens, recorded once per sequence when it
	// starts (Admit answering AdmitNow, or its first Reserve); a refused admission
	// or failed reservation records nothing.
	PrefixRequests, PrefixQueries, PrefixHits uint64
	HitRate                                   float64 // PrefixHits / PrefixQueries
	// The same over the most recent Config.StatsWindow requests.
	RecentQueries, RecentHits uint64
	RecentHitRate             float64

	Evictions    uint64 // cached blocks that lost their hash by being reused
	CopyOnWrites uint64 // block copies returned to the engine
	SwapOuts     uint64 // sequences moved to the host tier
	SwapIns      uint64 // sequences brought back
	HostBlocks   int    // host-tier blocks (Config.HostBlocks)
	HostFree     int    // free host-tier blocks (0 without a host tier)

	EventsQueued  int    // events waiting for TakeEvents
	EventsDropped uint64 // events dropped because the queue was full, since New

	// Host prefix cache (Config.HostCache).
	HostCachedBlocks   int    // host blocks holding a cached prefix block (free, evictable)
	HostHits           uint64 // prompt tokens claimed from the host tier (onloaded); part of PrefixHits
	Offloads           uint64 // blocks copied device → host (offloads and write-through)
	Onloads            uint64 // blocks copied host → device (claimed host hits)
	HostEvictions      uint64 // cached host blocks that lost their hash by being reused
	WriteThroughQueued int    // blocks waiting for their write-through copy

	// Partial-block reuse (Config.PartialBlockReuse).
	PartialReuses uint64 // partly matching blocks copied
	PartialHits   uint64 // prompt tokens they saved; part of PrefixHits

	// WindowReleases counts the blocks windowed KV-cache groups released as their
	// sequences' windows moved on (Config.Groups).
	WindowReleases uint64

	Pins         int   // live pins
	PinnedBlocks int   // device blocks held by pins (counted once)
	Clock        int64 // the logical clock (SetClock)
}

type statsState struct {
	requests, queries, hits uint64
	// ring of the most recent requests' (queries, hits)
	ringQ, ringH      []uint64
	ringPos, ringLen  int
	recentQ, recentH  uint64
	evictions, cows   uint64
	swapOuts, swapIns uint64

	hostTokens, offloads, onloads, hostEvictions uint64
	partialReuses, partialTokens                 uint64
	windowReleases                               uint64
}

func (s *statsState) init(window int) {
	s.ringQ = make([]uint64, window)
	s.ringH = make([]uint64, window)
}

func (s *statsState) record(queries, hits int) {
	s.requests++
	s.queries += uint64(queries)
	s.hits += uint64(hits)
	if s.ringLen == len(s.ringQ) {
		s.recentQ -= s.ringQ[s.ringPos]
		s.recentH -= s.ringH[s.ringPos]
	} else {
		s.ringLen++
	}
	s.ringQ[s.ringPos], s.ringH[s.ringPos] = uint64(queries), uint64(hits)
	s.recentQ += uint64(queries)
	s.recentH += uint64(hits)
	s.ringPos = (s.ringPos + 1) % len(s.ringQ)
}

func (s *statsState) resetWindow() {
	clear(s.ringQ)
	clear(s.ringH)
	s.ringPos, s.ringLen, s.recentQ, s.recentH = 0, 0, 0, 0
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Stats returns a snapshot of the counters, in O(1).
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.statsLocked()
}

func (m *Manager) statsLocked() Stats {
	n, free := m.pool.NumBlocks(), m.pool.NumFree()
	st := &m.stats
	out := Stats{
		NumBlocks: n, UsedBlocks: n - free, FreeBlocks: free, CachedBlocks: m.pool.NumCached(),
		Usage: float64(n-free) / float64(n), Sequences: m.live,
		PrefixRequests: st.requests, PrefixQueries: st.queries, PrefixHits: st.hits,
		HitRate:       ratio(st.hits, st.queries),
		RecentQueries: st.recentQ, RecentHits: st.recentH, RecentHitRate: ratio(st.recentH, st.recentQ),
		Evictions: st.evictions, CopyOnWrites: st.cows, SwapOuts: st.swapOuts, SwapIns: st.swapIns,
	}
	if m.host != nil {
		out.HostBlocks, out.HostFree = m.host.NumBlocks(), m.host.NumFree()
	}
	out.EventsQueued, out.EventsDropped = len(m.events.cur.events), m.events.totalDropped
	out.HostCachedBlocks, out.HostHits, out.Offloads, out.Onloads = m.hostCachedBlocks(), st.hostTokens, st.offloads, st.onloads
	out.HostEvictions, out.WriteThroughQueued = st.hostEvictions, len(m.tier.wt)
	out.PartialReuses, out.PartialHits = st.partialReuses, st.partialTokens
	out.Pins, out.PinnedBlocks, out.Clock = m.pins.live, m.pins.distinct, m.pool.Now()
	out.WindowReleases = st.windowReleases
	return out
}
