// Package pagedpub publishes a paged.Manager's prefix-cache events as a vLLM engine
// publishes its KV events, so routers and KV indexers built for vLLM fleets (llm-d's
// among them) can follow an engine that manages its cache with pagedkv — or a
// simulated engine standing in for a GPU one (kvctl engine).
//
// It joins two packages that know nothing of each other: paged queues vLLM-shaped
// events (TakeEvents), kvevents speaks vLLM's wire format and ZeroMQ protocol. A
// Converter turns the former into the latter field by field; a Bridge does that once
// per engine step and hands the batch to a Sink, normally a *kvevents.Publisher.
//
// # What goes on the wire
//
// With a Manager hashing as the fleet's vLLM does (paged.Config.Hasher =
// prefix.VLLM{...}) the published bytes are vLLM's own: the tests rebuild vLLM's
// golden payloads (../shared/reference/vllm-compat/event-vectors.json) byte for byte
// from Manager operations. A BlockStored carries the block ids (the 64-bit form, or
// the raw digests with ConvertOptions.RawHashes, as VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0
// does), the parent's id, the blocks' token ids, the block size, lora_name (and
// lora_id when ConvertOptions.LoRAIDs knows the adapter; None otherwise), the medium
// (GPU, or CPU for a host tier that caches), vLLM's per-block extra keys (adapter
// name, (multimodal identifier, offset) pairs, cache salt on block 0, the
// prompt-embedding digest), group_idx (the Manager's KV-cache group, paged.KVGroup) and
// the group's kv_cache_spec_kind ("full_attention", "sliding_window" with
// kv_cache_spec_sliding_window, or "chunked_local_attention"). BlockRemoved carries one
// id, the medium and group_idx; AllBlocksCleared nothing.
//
// # Never stale
//
// The Manager's event queue is bounded and drops its tail when full; a batch can
// fail to publish; a publisher can be replaced. In each case the subscribers' view
// would silently diverge, so the Bridge re-announces instead: its next Step
// publishes AllBlocksCleared followed by one BlockStored per cached block
// (paged.Manager.ResyncEvents, taken atomically under the Manager's lock), and the
// following steps continue from there. A subscriber applying batches in order thus
// ends, after every step, with exactly the Manager's cached blocks — the end-to-end
// test checks it over ZeroMQ with dropped messages, publisher and subscriber
// restarts and queue overflows. Blocks re-announced without a live sequence carry
// no adapter or extra keys (the Manager keeps only their key); see ResyncEvents.
//
// # Worked example
//
// An engine with prefix caching and events on publishes after each step:
//
//	m, _ := paged.New(paged.Config{NumBlocks: 1024, Hasher: prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"},
//		Events: paged.EventOptions{Enabled: true}})
//	pub, _ := kvevents.NewPublisher(kvevents.PublisherConfig{Endpoint: "tcp://*:5557", ReplayEndpoint: "tcp://*:5558"})
//	bridge, _ := pagedpub.New(m, pagedpub.Config{Sink: pub})
//	for {
//		// ... schedule: Admit, DecodeStep, MarkComputedBatch, Free ...
//		if _, err := bridge.Step(); err != nil { /* logged; the next Step resyncs */ }
//	}
//
// A prompt of 56 tokens computed in one step gives one batch holding
// BlockStored{block_hashes: [5919643161646815916, 13002451278117060876,
// 6442017005216993431], parent_block_hash: None, token_ids: the first 48 tokens,
// block_size: 16, medium: "GPU", extra_keys: [None, None, None], group_idx: 0, ...}
// with vLLM's block ids for PYTHONHASHSEED=0, and a subscriber (kvevents.Subscriber,
// or vLLM's own consumers) indexes them under this engine.
package pagedpub
