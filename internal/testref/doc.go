// Package testref finds, for the tests of pagedkv's packages, the reference files
// that live outside the module: vLLM's golden vectors (event-vectors.json,
// hash-vectors.json in shared/reference/vllm-compat). Every package that checks
// itself against vLLM reads them through here, so they are found the same way
// everywhere and a test skips with the same message where they are absent.
//
// Search order: $PAGEDKV_REFERENCE/vllm-compat, then $PAGEDKV_REFERENCE itself (a
// directory holding the files directly); when PAGEDKV_REFERENCE is unset,
// $PAGEDKV_VLLM_COMPAT (the vllm-compat directory itself, an older setting), then
// ../shared/reference/vllm-compat beside the module root (the nearest directory
// upwards from the working directory that holds a go.mod).
//
// A test reads a file, or skips:
//
//	raw, err := os.ReadFile(testref.File(t, "hash-vectors.json"))
//
// and the msgpack payload of every case of event-vectors.json by name:
//
//	payload := testref.EventPayloads(t)["stored_root_gpu"] // 93 cb 41da… as vLLM sent it
package testref
