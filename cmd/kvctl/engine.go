package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

func init() {
	register(command{
		name:    "engine",
		summary: "run a simulated engine over a trace and publish its KV events as vLLM does",
		run:     runEngine,
	})
}

const engineDescription = `
Runs one simulated serving engine over a trace and publishes its KV-cache events
exactly as a vLLM engine does (ZeroMQ PUB [topic, seq, msgpack] and a ROUTER replay
socket): a GPU-free stand-in for testing routers and KV indexers, llm-d's included.
The engine is pagedkv's real cache manager (paged.Manager) with vLLM's block
hashing (-hash-algo, -seed = the fleet's PYTHONHASHSEED), sized and timed by the
simulator's model of -model on -gpu; a continuous-batching scheduler admits the
trace's requests at their arrival times, prefills them in chunks of at most
-max-batched-tokens per step, decodes, preempts by recompute when blocks run out.
After every step with events it publishes one batch (ts = the simulated clock);
if the manager's event queue overflows it publishes AllBlocksCleared and
re-announces the cache (see package pagedpub).

Traces: .csv (Azure LLM inference 2023: lengths only, random tokens) or .jsonl
(Mooncake: hash ids become shared token blocks, so prefixes are really shared).
By default the simulation runs as fast as it can; -realtime paces it by simulated
time. After the trace, the sockets stay open for -linger (late subscribers can
still replay), then it prints one JSON summary line. The first output line gives
the endpoints actually bound: {"kind":"listening","pub":...,"replay":...}.
Connections to the sockets that fail ZeroMQ's handshake (a peer that is not
ZeroMQ) are counted in the summary (handshake_failures); -v also prints each one
on standard error.`

// maxEngineRequests bounds -requests. Trace rows are checked by package workload
// against its limits (workload.MaxTokens per prompt and output, MaxArrival).
const maxEngineRequests = 1 << 24

type engineFlags struct {
	trace, pub, replay, topic, algo, seed, model, gpu              string
	requests, blockSize, numBlocks, tp, maxSeqs, maxTokens, dpRank int
	eventQueue                                                     int
	memUtil                                                        float64
	linger                                                         time.Duration
	traceSeed                                                      uint64
	realtime, raw, verbose                                         bool
}

func runEngine(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("engine", "engine -trace FILE [-requests N] -pub tcp://HOST:PORT -replay tcp://HOST:PORT [-topic T] [-linger D] [-hash-algo A -seed S] [-model M -gpu G ...] [-v]", engineDescription)
	var f engineFlags
	fs.StringVar(&f.trace, "trace", "", "the trace `file` (.csv Azure 2023, .jsonl Mooncake; required)")
	fs.IntVar(&f.requests, "requests", 0, "serve only the first `N` requests (0: all)")
	fs.StringVar(&f.pub, "pub", kvevents.DefaultEndpoint, "the PUB `endpoint`: bound when it has * or :: (vLLM's rule) or port 0 (a free port), else connected to a subscriber that binds")
	fs.StringVar(&f.replay, "replay", "", "the replay ROUTER `endpoint`, always bound (none: no replay, vLLM's default)")
	fs.StringVar(&f.topic, "topic", "", "the `topic` frame of every message (vLLM's default: empty)")
	fs.DurationVar(&f.linger, "linger", 0, "keep the sockets open this `long` after the trace ends")
	fs.StringVar(&f.algo, "hash-algo", string(prefix.SHA256Pickle), "vLLM's --prefix-caching-hash-algo: sha256, sha256_cbor, xxhash, xxhash_cbor; or xxh3 (pagedkv's own)")
	fs.StringVar(&f.seed, "seed", "", "the engines' PYTHONHASHSEED (empty: unset)")
	fs.BoolVar(&f.raw, "raw-hashes", false, "send raw digests, as vLLM with VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0")
	fs.IntVar(&f.dpRank, "dp-rank", 0, "data-parallel `rank`: offsets both ports and is stamped into batches")
	fs.StringVar(&f.model, "model", "llama-3.1-8b", "the model: "+strings.Join(hardware.ModelNames(), ", "))
	fs.StringVar(&f.gpu, "gpu", "h100-80", "the GPU: "+strings.Join(hardware.GPUNames(), ", "))
	fs.IntVar(&f.tp, "tp", 1, "tensor-parallel degree")
	fs.Float64Var(&f.memUtil, "mem-util", 0.9, "fraction of GPU memory for weights and KV")
	fs.IntVar(&f.blockSize, "block-size", 16, "tokens per KV block")
	fs.IntVar(&f.numBlocks, "num-blocks", 0, "KV blocks (0: what the model leaves on the GPU)")
	fs.IntVar(&f.maxSeqs, "max-seqs", 256, "most sequences running at once (vLLM's max_num_seqs)")
	fs.IntVar(&f.maxTokens, "max-batched-tokens", 8192, "most tokens per step (vLLM's max_num_batched_tokens)")
	fs.IntVar(&f.eventQueue, "event-queue", 0, "the manager's event queue bound in events (0: paged's default)")
	fs.Uint64Var(&f.traceSeed, "trace-seed", 1, "seed of the token ids of length-only traces (Azure)")
	fs.BoolVar(&f.realtime, "realtime", false, "pace the steps by simulated time")
	fs.BoolVar(&f.verbose, "v", false, verboseUsage)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return failf(stderr, "engine", exitUsage, "unexpected argument %q (-h for help)", fs.Arg(0))
	}
	cfg, err := f.config()
	if err != nil {
		return failf(stderr, "engine", exitUsage, "%v", err)
	}
	cfg.pubCfg.Logger = zmqLogger("engine", f.verbose, stderr)
	src, n, err := openEngineTrace(f.trace, f.traceSeed, f.requests)
	if err != nil {
		return failf(stderr, "engine", exitFailure, "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := cfg.run(ctx, src, n, stdout); err != nil {
		return failf(stderr, "engine", exitFailure, "%v", err)
	}
	return exitOK
}

// engineConfig is a validated kvctl engine command line.
type engineConfig struct {
	f      engineFlags
	hw     hardware.Deployment
	mgr    paged.Config
	pubCfg kvevents.PublisherConfig
}

// config validates the flags; errors are usage errors.
func (f *engineFlags) config() (*engineConfig, error) {
	switch {
	case f.trace == "":
		return nil, fmt.Errorf("-trace is required (-h for help)")
	case f.requests < 0 || f.requests > maxEngineRequests:
		return nil, fmt.Errorf("-requests %d not in [0, %d]", f.requests, maxEngineRequests)
	case f.blockSize < 1 || f.blockSize > paged.MaxBlockSize:
		return nil, fmt.Errorf("-block-size %d not in [1, %d]", f.blockSize, paged.MaxBlockSize)
	case f.numBlocks < 0 || f.numBlocks > paged.MaxNumBlocks:
		return nil, fmt.Errorf("-num-blocks %d not in [0, %d]", f.numBlocks, paged.MaxNumBlocks)
	case f.maxSeqs < 1 || f.maxSeqs > 1<<16:
		return nil, fmt.Errorf("-max-seqs %d not in [1, 65536]", f.maxSeqs)
	case f.maxTokens < 1 || f.maxTokens > 1<<22:
		return nil, fmt.Errorf("-max-batched-tokens %d not in [1, %d]", f.maxTokens, 1<<22)
	case f.eventQueue < 0 || f.eventQueue > paged.MaxEventQueueSize:
		return nil, fmt.Errorf("-event-queue %d not in [0, %d]", f.eventQueue, paged.MaxEventQueueSize)
	case f.linger < 0:
		return nil, fmt.Errorf("-linger %v is negative", f.linger)
	case f.dpRank < 0 || f.dpRank > 1<<10:
		return nil, fmt.Errorf("-dp-rank %d not in [0, 1024]", f.dpRank)
	case f.tp < 1 || f.tp > 1<<10:
		return nil, fmt.Errorf("-tp %d not in [1, 1024]", f.tp)
	case !(f.memUtil > 0 && f.memUtil <= 1):
		return nil, fmt.Errorf("-mem-util %v not in (0, 1]", f.memUtil)
	}
	if err := checkEndpoint("-pub", f.pub); err != nil {
		return nil, err
	}
	if f.replay != "" {
		if err := checkEndpoint("-replay", f.replay); err != nil {
			return nil, err
		}
	}
	c := &engineConfig{f: *f, hw: hardware.Default()}
	var err error
	if c.hw.Model, err = hardware.LookupModel(f.model); err != nil {
		return nil, fmt.Errorf("-model %q unknown (want one of %s)", f.model, strings.Join(hardware.ModelNames(), ", "))
	}
	if c.hw.GPU, err = hardware.LookupGPU(f.gpu); err != nil {
		return nil, fmt.Errorf("-gpu %q unknown (want one of %s)", f.gpu, strings.Join(hardware.GPUNames(), ", "))
	}
	c.hw.TP, c.hw.MemUtil = f.tp, f.memUtil
	if err := c.hw.Validate(); err != nil {
		return nil, err
	}
	var h prefix.Hasher
	if f.algo == "xxh3" {
		if f.seed != "" {
			return nil, fmt.Errorf("-seed is vLLM's PYTHONHASHSEED; pagedkv's own xxh3 hashing takes none")
		}
		h = prefix.XXH3{}
	} else {
		v := prefix.VLLM{Algo: prefix.VLLMAlgo(f.algo), PythonHashSeed: f.seed}
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("-hash-algo %q -seed %q: %w", f.algo, f.seed, err)
		}
		h = v
	}
	blocks := f.numBlocks
	if blocks == 0 {
		blocks = min(c.hw.NumBlocks(f.blockSize), paged.MaxNumBlocks)
	}
	c.mgr = paged.Config{NumBlocks: blocks, BlockSize: f.blockSize, Hasher: h,
		Events: paged.EventOptions{Enabled: true, QueueSize: f.eventQueue}}
	c.pubCfg = kvevents.PublisherConfig{Endpoint: f.pub, ReplayEndpoint: f.replay, Topic: f.topic,
		DataParallelRank: f.dpRank}
	if strings.HasPrefix(f.pub, "tcp://") && strings.HasSuffix(f.pub, ":0") {
		c.pubCfg.Mode = kvevents.Bind // a free port: nothing to connect to
	}
	if _, err := kvevents.OffsetEndpoint(f.pub, f.dpRank); err != nil {
		return nil, err
	}
	return c, nil
}

// engineSummary is the last output line.
type engineSummary struct {
	Kind       string  `json:"kind"`
	Requests   int     `json:"requests"`
	Finished   int     `json:"finished"`
	Dropped    int     `json:"dropped"`
	Preempted  int     `json:"preempted"`
	Steps      uint64  `json:"steps"`
	Batches    uint64  `json:"batches"`
	Events     uint64  `json:"events"`
	Resyncs    uint64  `json:"resyncs"`
	Handshakes uint64  `json:"handshake_failures"` // connections that were not ZeroMQ (-v logs them)
	LastSeq    *uint64 `json:"last_seq"`
	NumBlocks  int     `json:"num_blocks"`
	HitRate    float64 `json:"prefix_hit_rate"`
	Simulated  float64 `json:"simulated_s"`
	Wall       float64 `json:"wall_s"`
	Interrupts bool    `json:"interrupted,omitempty"`
}
