package main

import (
	"os"
	"strings"
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
