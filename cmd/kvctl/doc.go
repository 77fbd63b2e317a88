// Command kvctl is a tool for people who run fleets of LLM engines whose KV caches
// speak vLLM's protocol: it shows what an engine computes, so a router's view can be
// checked against it.
//
// Usage:
//
//	kvctl COMMAND [flags]
//
// Every command describes itself with -h. Exit status: 0 on success, 1 on bad input
// or a failure while working, 2 on a bad command line; errors are one line on
// standard error. ZeroMQ's own log lines (zmq4 writes a connection that is not
// ZeroMQ to stderr by default) are dropped unless -v asks for them, one line each
// prefixed "kvctl COMMAND: zmq4: ".
//
// # kvctl hash
//
// hash reads one JSON object on standard input, in the shape of the "inputs" objects
// of vLLM's golden hash vectors (shared/reference/vllm-compat/hash-vectors.json), and
// prints the block hashes vLLM computes for that request: the full digest (hex) and
// the 64-bit KV-event id of every full block. It is the tool to debug why a router's
// prefix does not match an engine's.
//
//	$ echo '{"hash_algo":"sha256_cbor","pythonhashseed":"0","block_size":2,
//	         "prompt_token_ids":[1,2,3,4,5]}' | kvctl hash
//	{"digests":["…","…"],"event_ids":[…,…]}
//
// Fields: hash_algo (sha256_cbor, xxhash_cbor, sha256 or xxhash: vLLM's
// --prefix-caching-hash-algo), pythonhashseed (the engines' PYTHONHASHSEED as a
// string, or null when unset), block_size, prompt_token_ids, output_token_ids
// (generated tokens, appended one at a time as vLLM does, which matters for
// multimodal requests), lora_name, cache_salt, mm_items ([{identifier, offset,
// length}], sorted by offset) and prompt_embeds ({"dtype": "float32", "rows":
// [[...], ...]}, one row per prompt token). Absent fields mean none; unknown fields
// are an error. See package prefix (type VLLM) for the hashing rules and the vLLM
// versions they follow.
//
// # kvctl engine
//
// engine runs one simulated serving engine over a trace (.csv Azure 2023, .jsonl
// Mooncake) and publishes its KV events exactly as a vLLM engine does, for testing
// routers and KV indexers without GPUs: pagedkv's cache manager with vLLM's block
// hashing (-hash-algo, -seed = PYTHONHASHSEED), sized and timed by the simulator's
// model of -model on -gpu, a continuous-batching scheduler with chunked prefill and
// recompute preemption, one KV-event batch per step on a ZeroMQ PUB socket (-pub)
// with a replay socket (-replay). It runs as fast as it can, or paced by simulated
// time with -realtime; after the trace it keeps the sockets open for -linger. The
// first output line names the bound endpoints, the last one summarises the run.
//
//	$ kvctl engine -trace mooncake_conversation_trace.jsonl -requests 200 \
//	      -pub 'tcp://*:5557' -replay 'tcp://*:5558' -hash-algo sha256_cbor -seed 0 -linger 60s
//
// The trace comes from package workload (workload.OpenTrace: any registered format,
// rows checked against workload's limits before the engine starts, then streamed),
// the time model from package hardware (hardware.Deployment.IterationTime); each
// request runs one sequence.
//
// # kvctl events
//
// events subscribes to an engine (vLLM's own or kvctl engine) and prints every
// decoded event as one JSON line with vLLM's field names, plus lines of their own
// kind for what the subscriber notices (gap_recovered, gap_lost, restarted,
// cleared). With -replay it first replays the publisher's buffer and fills gaps.
//
//	$ kvctl events -sub tcp://10.0.0.7:5557 -replay tcp://10.0.0.7:5558 -n 100
//
// # Adding a command
//
// Each command lives in its own file, which calls register from its init function
// with the command's name, a one-line summary and its run function; run builds its
// flags with newFlags and parseFlags (which implement -h and the exit statuses).
package main
