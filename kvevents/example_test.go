package kvevents_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"

	"github.com/pagedkv/pagedkv/kvevents"
)

// Encode a BlockStored the way a vLLM engine reports two newly cached blocks, and
// decode it back.
func ExampleEncodeBatch() {
	b := &kvevents.Batch{
		TS:               1757500000.25,
		DataParallelRank: kvevents.Some[int64](0),
		Events: []kvevents.Event{{
			Type:            kvevents.BlockStored,
			BlockHashes:     []kvevents.BlockHash{kvevents.HashUint64(5919643161646815916), kvevents.HashUint64(13002451278117060876)},
			TokenIDs:        []int32{1, 2, 3, 4, 5, 6, 7, 8},
			BlockSize:       4,
			Medium:          kvevents.Some(kvevents.MediumGPU),
			ExtraKeys:       kvevents.Some([]any{nil, nil}),
			GroupIdx:        kvevents.Some[int64](0),
			KVCacheSpecKind: kvevents.Some("full_attention"),
		}},
	}
	payload, err := kvevents.EncodeBatch(b)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes, starting %x\n", len(payload), payload[:10])

	back, err := kvevents.DecodeBatch(payload)
	if err != nil {
		panic(err)
	}
	ev := back.Events[0]
	fmt.Println(ev.Type, ev.BlockHashes, ev.Medium.Val, ev.ParentBlockHash.Valid, ev.LoraName.Valid)
	// Output:
	// 202 bytes, starting 93cb41da305498100000
	// BlockStored [5919643161646815916 13002451278117060876] GPU false false
}

// Decode a payload captured from vLLM (the golden vector "removed_gpu").
func ExampleDecodeBatch() {
	payload, _ := hex.DecodeString("93cb41da3054981000009184a474797065ac426c6f636b52656d6f766564ac626c6f636b5f68617368657391cf5966a455c0fc1097a66d656469756da3475055a967726f75705f6964780000")
	b, err := kvevents.DecodeBatch(payload)
	if err != nil {
		panic(err)
	}
	for _, ev := range b.Events {
		fmt.Printf("%s %v medium=%s group=%d rank=%d layout=%s\n",
			ev.Type, ev.BlockHashes, ev.Medium.Val, ev.GroupIdx.Val, b.DataParallelRank.Val, b.Layout)
	}
	// Output:
	// BlockRemoved [6442017005216993431] medium=GPU group=0 rank=0 layout=map
}

// A publisher and a subscriber on loopback: the subscriber joins after three
// batches were published and catches up from the replay socket; its handler keeps
// a per-engine set of cached hashes the way an index would.
func ExampleSubscriber() {
	pub, err := kvevents.NewPublisher(kvevents.PublisherConfig{
		Endpoint:       "tcp://127.0.0.1:0", // a free port; vLLM's default is tcp://*:5557
		Mode:           kvevents.Bind,
		ReplayEndpoint: "tcp://127.0.0.1:0",
		Topic:          "kv@pod-a",
	})
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	for i := range uint64(3) {
		ev := kvevents.Event{Type: kvevents.BlockStored, BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(100 + i)},
			TokenIDs: []int32{1, 2, 3, 4}, BlockSize: 4, Medium: kvevents.Some(kvevents.MediumGPU)}
		if i == 2 {
			ev = kvevents.Event{Type: kvevents.BlockRemoved, BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(100)},
				Medium: kvevents.Some(kvevents.MediumGPU)}
		}
		if _, err := pub.Publish(&kvevents.Batch{TS: float64(i), Events: []kvevents.Event{ev}}); err != nil {
			panic(err)
		}
	}

	var mu sync.Mutex
	cached := map[string]map[uint64]bool{} // engine → block hash keys
	done := make(chan struct{})
	handler := func(n kvevents.Notification) {
		mu.Lock()
		defer mu.Unlock()
		switch n.Kind {
		case kvevents.Applied:
			set := cached[n.Engine]
			if set == nil {
				set = map[uint64]bool{}
				cached[n.Engine] = set
			}
			for _, ev := range n.Batch.Events {
				switch ev.Type {
				case kvevents.BlockStored:
					for _, h := range ev.BlockHashes {
						set[h.Key()] = true
					}
				case kvevents.BlockRemoved:
					for _, h := range ev.BlockHashes {
						delete(set, h.Key())
					}
				case kvevents.AllBlocksCleared:
					clear(set)
				}
			}
			fmt.Printf("applied seq %d (replayed %v)\n", n.Seq, n.Replayed)
			if n.Seq == 2 {
				close(done)
			}
		case kvevents.GapLost, kvevents.Restarted:
			delete(cached, n.Engine) // never route on entries that may be stale
		}
	}
	sub, err := kvevents.NewSubscriber(context.Background(), kvevents.SubscriberConfig{Handler: handler})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	err = sub.Add(kvevents.Endpoint{Engine: "pod-a", Pub: pub.Endpoint(), Replay: pub.ReplayEndpoint(), Topic: "kv@pod-a"})
	if err != nil {
		panic(err)
	}
	<-done
	mu.Lock()
	var keys []uint64
	for k := range cached["pod-a"] {
		keys = append(keys, k)
	}
	mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	fmt.Println("pod-a holds", keys)
	// Output:
	// applied seq 0 (replayed true)
	// applied seq 1 (replayed true)
	// applied seq 2 (replayed true)
	// pod-a holds [101]
}

// The endpoints of data-parallel rank 3, as vLLM's publisher offsets them.
func ExampleOffsetEndpoint() {
	pub, _ := kvevents.OffsetEndpoint("tcp://*:5557", 3)
	in, _ := kvevents.OffsetEndpoint("inproc://kv", 3)
	ep, _ := kvevents.Endpoint{Engine: "pod-a", Pub: "tcp://10.0.0.7:5557", Replay: "tcp://10.0.0.7:5600"}.ForRank(3)
	fmt.Println(pub, in)
	fmt.Println(ep.Engine, ep.Pub, ep.Replay)
	// Output:
	// tcp://*:5560 inproc://kv_dp3
	// pod-a/dp3 tcp://10.0.0.7:5560 tcp://10.0.0.7:5603
}
