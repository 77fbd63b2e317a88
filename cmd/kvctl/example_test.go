package main

import (
	"os"
	"strings"

	"github.com/pagedkv/pagedkv/kvevents"
)

// kvctl hash prints the digest and the KV-event id of every full block. This is the
// first block of vLLM's golden case seed0_bs16_plain (PYTHONHASHSEED=0, sha256_cbor);
// the two tokens after it do not fill a block and are not hashed.
func Example_hash() {
	req := `{"hash_algo": "sha256_cbor", "pythonhashseed": "0", "block_size": 16,
		"prompt_token_ids": [151643, 0, 1, 23, 24, 255, 256, 65535, 65536, 128000, 151645, 198, 872, 9707, 11, 42, 100, 101]}`
	run([]string{"hash"}, strings.NewReader(req), os.Stdout, os.Stderr)
	// Output:
	// {"digests":["9981fcc86472abb8bee6dc91e58b57c7c89e5653760e74215226cc1787075aac"],"event_ids":[5919643161646815916]}
}

// kvctl events prints what an engine publishes, one JSON line per event. Here a
// publisher on a free loopback port has published one batch before the subscriber
// joined: the replay socket delivers it.
func Example_events() {
	pub, _ := kvevents.NewPublisher(kvevents.PublisherConfig{Endpoint: "tcp://127.0.0.1:0", Mode: kvevents.Bind,
		ReplayEndpoint: "tcp://127.0.0.1:0", Linger: -1})
	defer pub.Close()
	_, _ = pub.Publish(&kvevents.Batch{TS: 1757500000.25, Events: []kvevents.Event{{
		Type: kvevents.BlockStored, BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(5919643161646815916)},
		TokenIDs: []int32{1, 2, 3, 4}, BlockSize: 4, Medium: kvevents.Some(kvevents.MediumGPU),
	}}})
	run([]string{"events", "-sub", pub.Endpoint(), "-replay", pub.ReplayEndpoint(), "-n", "1", "-timeout", "10s", "-engine", "pod-a"},
		nil, os.Stdout, os.Stderr)
	// Output:
	// {"kind":"event","engine":"pod-a","seq":0,"ts":1757500000.25,"data_parallel_rank":0,"replayed":true,"type":"BlockStored","block_hashes":[5919643161646815916],"parent_block_hash":null,"token_ids":[1,2,3,4],"block_size":4,"lora_id":null,"medium":"GPU","lora_name":null}
}
