package pagedpub_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/pagedpub"
	"github.com/pagedkv/pagedkv/prefix"
)

// printSink prints each batch it is given; a real engine passes a
// *kvevents.Publisher.
type printSink struct{ seq uint64 }

func (s *printSink) Publish(b *kvevents.Batch) (uint64, error) {
	for _, e := range b.Events {
		switch e.Type {
		case kvevents.BlockStored:
			keys := any("None") // unknown: a re-announced block no sequence holds
			if e.ExtraKeys.Valid {
				keys = e.ExtraKeys.Val
			}
			fmt.Printf("seq %d: %s %v parent %v medium %s extra_keys %v\n", s.seq, e.Type, e.BlockHashes, e.ParentBlockHash.Valid, e.Medium.Val, keys)
		default:
			fmt.Printf("seq %d: %s %v\n", s.seq, e.Type, e.BlockHashes)
		}
	}
	s.seq++
	return s.seq - 1, nil
}

// An engine hashing as vLLM does (sha256_cbor, PYTHONHASHSEED=0) publishes one
// batch per step: here a 56-token prompt computed in one step stores three blocks
// under vLLM's block ids; after a queue overflow the next step re-announces the
// cache.
func ExampleBridge() {
	m, _ := paged.New(paged.Config{NumBlocks: 64, BlockSize: 16,
		Hasher: prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"},
		Events: paged.EventOptions{Enabled: true, QueueSize: 1}})
	bridge, _ := pagedpub.New(m, pagedpub.Config{Sink: &printSink{}})

	prompt := []int32{151643, 0, 1, 23, 24, 255, 256, 65535, 65536, 128000, 151645, 198, 872, 9707, 11, 42,
		100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115,
		151644, 872, 198, 3838, 374, 279, 6722, 315, 9625, 30, 151645, 198, 151644, 77091, 198, 151667,
		271, 9125, 128006, 128007, 7, 8, 9, 10}
	id, _ := m.Add(prompt, paged.SeqOptions{})
	adm, _ := m.Admit(id, len(prompt), 0, nil)
	_ = m.MarkComputed(id, adm.N)
	_, _ = bridge.Step()

	// Two prompts in one step overflow the one-event queue: the step resyncs.
	for _, first := range []int32{1, 2} {
		other, _ := m.Add([]int32{first, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, paged.SeqOptions{})
		adm, _ := m.Admit(other, 17, 0, nil)
		_ = m.MarkComputed(other, adm.N)
		_ = m.Free(other)
	}
	r, _ := bridge.Step()
	fmt.Println("dropped", r.Dropped, "resync", r.Resync, "events", r.Events)
	// Output:
	// seq 0: BlockStored [5919643161646815916 13002451278117060876 6442017005216993431] parent false medium GPU extra_keys [<nil> <nil> <nil>]
	// seq 1: AllBlocksCleared []
	// seq 1: BlockStored [5919643161646815916 13002451278117060876 6442017005216993431] parent false medium GPU extra_keys [<nil> <nil> <nil>]
	// seq 1: BlockStored [17358120238761002459] parent false medium GPU extra_keys None
	// seq 1: BlockStored [8117578799591695531] parent false medium GPU extra_keys None
	// dropped 1 resync true events 4
}

// A Converter alone turns TakeEvents' output into wire events, for a transport
// other than a kvevents.Publisher.
func ExampleConverter() {
	m, _ := paged.New(paged.Config{NumBlocks: 8, BlockSize: 4, Events: paged.EventOptions{Enabled: true}})
	id, _ := m.Add([]int32{1, 2, 3, 4, 5}, paged.SeqOptions{Adapter: "sql", CacheSalt: "tenant"})
	adm, _ := m.Admit(id, 5, 0, nil)
	_ = m.MarkComputed(id, adm.N)

	evs, _ := m.TakeEvents(nil)
	conv := pagedpub.NewConverter(pagedpub.ConvertOptions{LoRAIDs: map[string]int64{"sql": 3}})
	for _, e := range conv.Append(nil, evs) {
		fmt.Println(e.Type, len(e.BlockHashes), "block(s), lora", e.LoraName.Val, e.LoraID.Val, "extra_keys", e.ExtraKeys.Val)
	}
	// Output:
	// BlockStored 1 block(s), lora sql 3 extra_keys [[sql tenant]]
}
