package cluster

// FeedStats are a Feed's counters (cumulative) and queue state (now).
type FeedStats struct {
	// Engines is the number of engines the feed has seen.
	Engines int
	// QueuedOps and QueuedHashes are what waits to be applied now (batches and
	// engine operations; block hashes).
	QueuedOps, QueuedHashes int
	// Calls counts ApplyBatches calls; Applied and Duplicates the batches they
	// applied or found already applied.
	Calls, Applied, Duplicates uint64
	// Restarts, Losses and Drops count the engine operations carried out (Restart,
	// Lost, Drop); LossesCovered the Lost notices found already covered by the index
	// (another writer had applied the batches).
	Restarts, Losses, LossesCovered, Drops uint64
	// Resyncs counts Resync calls made for any reason (restarts, losses, overflows,
	// and batches the index answered Gap or Refused).
	Resyncs uint64
	// Overflows counts engine queues discarded for exceeding a bound;
	// DiscardedBatches the batches dropped by overflows, rejections and Close.
	Overflows, DiscardedBatches uint64
	// Rejected counts batches and operations the index refused as invalid
	// (ErrInvalidBatch, ErrInvalidArgument such as ErrTooManyEngines).
	Rejected uint64
	// Errors counts failed index calls (retried after RetryInterval).
	Errors uint64
	// Unavailable is set while the last index call failed and the feed is waiting
	// to retry.
	Unavailable bool
	// LastError is the last failed call's error ("" once a call succeeds again).
	LastError string
}

// Stats returns the counters and the queue state.
func (f *Feed) Stats() FeedStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Engines = len(f.engines)
	for _, e := range f.engines {
		s.QueuedOps += len(e.ops)
		s.QueuedHashes += e.hashes
	}
	return s
}
