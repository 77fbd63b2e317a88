package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a RedisIndex. The zero value plus a reachable Redis at
// 127.0.0.1:6379 works.
type RedisConfig struct {
	// Client is the Redis client to use (it stays the caller's: Close leaves it
	// open). If nil, NewRedisIndex connects to Addr/DB and Close closes that client.
	Client redis.UniversalClient
	// Addr is "host:port". Default "127.0.0.1:6379".
	Addr string
	// DB is the database number for a client made from Addr. Default 0.
	DB int
	// Prefix starts every key of this index. Default "pagedkv:{default}:". Keep a
	// {hash tag} in it for Redis Cluster (the scripts touch many keys). Several
	// router replicas share an index by using the same Redis and Prefix.
	Prefix string
	// KeyTTL is the lifetime of a block key, renewed whenever an engine stores that
	// block or a Match finds it useful; it bounds how long fields of dropped engines
	// linger, and lets Redis (maxmemory-policy volatile-lru) evict block keys and
	// nothing else. Default 24h.
	KeyTTL time.Duration
	// MaxBatchHashes bounds the hashes in one batch. Default DefaultMaxBatchHashes.
	MaxBatchHashes int
	// Timeout bounds each call whose context has no deadline. Default 2s.
	Timeout time.Duration
}

// RedisIndex is the Index on Redis (see the layout in redisscripts.go and the
// package doc). Every update and query is one Lua script run, atomic on the server.
type RedisIndex struct {
	cfg        RedisConfig
	rdb        redis.UniversalClient
	own        bool
	bp, mp     string // block and meta key prefixes
	statsKey   string
	enginesKey string
	closed     atomic.Bool
}

var _ Index = (*RedisIndex)(nil)

// NewRedisIndex validates cfg and returns the index. It does not contact Redis (the
// first call does), so a router can start while Redis is down.
func NewRedisIndex(cfg RedisConfig) (*RedisIndex, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:6379"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "pagedkv:{default}:"
	}
	if cfg.KeyTTL == 0 {
		cfg.KeyTTL = 24 * time.Hour
	}
	if cfg.MaxBatchHashes == 0 {
		cfg.MaxBatchHashes = DefaultMaxBatchHashes
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	switch {
	case cfg.KeyTTL < time.Millisecond:
		return nil, fmt.Errorf("%w: KeyTTL %v below 1ms", ErrInvalidConfig, cfg.KeyTTL)
	case cfg.MaxBatchHashes < 0:
		return nil, fmt.Errorf("%w: MaxBatchHashes %d", ErrInvalidConfig, cfg.MaxBatchHashes)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout %v", ErrInvalidConfig, cfg.Timeout)
	case cfg.DB < 0:
		return nil, fmt.Errorf("%w: DB %d", ErrInvalidConfig, cfg.DB)
	}
	x := &RedisIndex{cfg: cfg, rdb: cfg.Client, bp: cfg.Prefix + "b:", mp: cfg.Prefix + "e:",
		statsKey: cfg.Prefix + "stats", enginesKey: cfg.Prefix + "engines"}
	if x.rdb == nil {
		// Fail fast when Redis is down (one dial attempt, one retry): the router
		// then routes on load alone instead of waiting out go-redis's dial backoff.
		x.rdb = redis.NewClient(&redis.Options{Addr: cfg.Addr, DB: cfg.DB, MaxRetries: 1, DialerRetries: 1,
			DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout})
		x.own = true
	}
	return x, nil
}

// Client returns the Redis client the index uses.
func (x *RedisIndex) Client() redis.UniversalClient { return x.rdb }

func (x *RedisIndex) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || x.cfg.Timeout == 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, x.cfg.Timeout)
}

// unavailable wraps a Redis or network error.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

func (x *RedisIndex) keys(e EngineID) []string {
	return []string{x.mp + string(e), x.statsKey, x.enginesKey}
}

// appendHex appends h as 16 lower-case hex digits.
func appendHex(b []byte, h uint64) []byte {
	const digits = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		b = append(b, digits[h>>uint(s)&15])
	}
	return b
}

func hexHashes(hs []uint64) string {
	b := make([]byte, 0, 16*len(hs))
	for _, h := range hs {
		b = appendHex(b, h)
	}
	return string(b)
}

func (x *RedisIndex) applyArgs(b *Batch) []any {
	args := make([]any, 0, 4+2*len(b.Events))
	args = append(args, x.bp, string(b.Engine), strconv.FormatUint(b.Seq, 10), x.cfg.KeyTTL.Milliseconds())
	for i := range b.Events {
		ev := &b.Events[i]
		tier := "g"
		if ev.Tier == TierCPU {
			tier = "c"
		}
		switch ev.Kind {
		case Stored:
			args = append(args, "S"+tier, hexHashes(ev.Hashes))
		case Removed:
			args = append(args, "R"+tier, hexHashes(ev.Hashes))
		case Cleared:
			args = append(args, "C-", "")
		}
	}
	return args
}

func parseApply(v any, err error) (ApplyResult, error) {
	if err != nil {
		return ApplyResult{}, unavailable("apply", err)
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return ApplyResult{}, unavailable("apply", fmt.Errorf("unexpected reply %v", v))
	}
	o, _ := a[0].(int64)
	n, _ := a[1].(int64)
	if o < int64(Applied) || o > int64(Refused) || n < 0 {
		return ApplyResult{}, unavailable("apply", fmt.Errorf("unexpected reply %v", v))
	}
	return ApplyResult{Outcome: Outcome(o), Next: uint64(n)}, nil
}

// Apply implements Index.
func (x *RedisIndex) Apply(ctx context.Context, b Batch) (ApplyResult, error) {
	if x.closed.Load() {
		return ApplyResult{}, ErrClosed
	}
	if err := validateBatch(&b, x.cfg.MaxBatchHashes); err != nil {
		return ApplyResult{}, err
	}
	ctx, cancel := x.ctx(ctx)
	defer cancel()
	return parseApply(applyScript.Run(ctx, x.rdb, x.keys(b.Engine), x.applyArgs(&b)...).Result())
}

// ApplyBatches implements Index: one pipeline of EVALSHA calls, in order. If Redis
// lacks the script (a restart), it is loaded and the batches that missed it are
// sent again in order; batches that did run are not repeated.
func (x *RedisIndex) ApplyBatches(ctx context.Context, bs []Batch, dst []ApplyResult) ([]ApplyResult, error) {
	if x.closed.Load() {
		return dst, ErrClosed
	}
	for i := range bs {
		if err := validateBatch(&bs[i], x.cfg.MaxBatchHashes); err != nil {
			return dst, fmt.Errorf("batch %d: %w", i, err)
		}
	}
	ctx, cancel := x.ctx(ctx)
	defer cancel()
	cmds := make([]*redis.Cmd, len(bs))
	todo := make([]int, len(bs))
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		pipe := x.rdb.Pipeline()
		for _, i := range todo {
			cmds[i] = applyScript.EvalSha(ctx, pipe, x.keys(bs[i].Engine), x.applyArgs(&bs[i])...)
		}
		_, _ = pipe.Exec(ctx)
		var missing []int
		for _, i := range todo {
			if err := cmds[i].Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
				missing = append(missing, i)
			}
		}
		if len(missing) == 0 || attempt > 0 {
			break
		}
		if err := applyScript.Load(ctx, x.rdb).Err(); err != nil {
			return dst, unavailable("script load", err)
		}
		todo = missing
	}
	for i := range bs {
		r, err := parseApply(cmds[i].Result())
		if err != nil {
			return dst, fmt.Errorf("batch %d (earlier ones applied): %w", i, err)
		}
		dst = append(dst, r)
	}
	return dst, nil
}

// Match implements Index.
func (x *RedisIndex) Match(ctx context.Context, hashes []uint64, dst []EngineMatch) ([]EngineMatch, error) {
	if x.closed.Load() {
		return dst, ErrClosed
	}
	if err := checkMatchLen(len(hashes)); err != nil {
		return dst, err
	}
	if len(hashes) == 0 {
		return dst, nil
	}
	ctx, cancel := x.ctx(ctx)
	defer cancel()
	v, err := matchScript.Run(ctx, x.rdb, []string{x.mp}, x.bp, x.mp, hexHashes(hashes), x.cfg.KeyTTL.Milliseconds()).Result()
	if err != nil {
		return dst, unavailable("match", err)
	}
	a, ok := v.([]any)
	if !ok || len(a)%3 != 0 {
		return dst, unavailable("match", fmt.Errorf("unexpected reply %T", v))
	}
	for i := 0; i < len(a); i += 3 {
		e, _ := a[i].(string)
		n, _ := a[i+1].(int64)
		g, _ := a[i+2].(int64)
		dst = append(dst, EngineMatch{Engine: EngineID(e), Blocks: int(n), GPUBlocks: int(g)})
	}
	return dst, nil
}

func (x *RedisIndex) engineOp(ctx context.Context, op string, s *redis.Script, id EngineID, args ...any) error {
	if x.closed.Load() {
		return ErrClosed
	}
	if err := ValidateEngineID(id); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	ctx, cancel := x.ctx(ctx)
	defer cancel()
	if err := s.Run(ctx, x.rdb, x.keys(id), append([]any{string(id)}, args...)...).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// DropEngine implements Index.
func (x *RedisIndex) DropEngine(ctx context.Context, id EngineID) error {
	return x.engineOp(ctx, "drop", dropScript, id)
}

// MarkStale implements Index.
func (x *RedisIndex) MarkStale(ctx context.Context, id EngineID) error {
	return x.engineOp(ctx, "mark stale", staleScript, id)
}

// Resync implements Index.
func (x *RedisIndex) Resync(ctx context.Context, id EngineID, next uint64) error {
	if next > MaxSeq {
		return fmt.Errorf("%w: resync %s to %d beyond %d", ErrInvalidArgument, id, next, uint64(MaxSeq))
	}
	return x.engineOp(ctx, "resync", resyncScript, id, strconv.FormatUint(next, 10))
}

// Engine implements Index.
func (x *RedisIndex) Engine(ctx context.Context, id EngineID) (EngineInfo, error) {
	if x.closed.Load() {
		return EngineInfo{}, ErrClosed
	}
	if err := ValidateEngineID(id); err != nil {
		return EngineInfo{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	ctx, cancel := x.ctx(ctx)
	defer cancel()
	pipe := x.rdb.TxPipeline()
	member := pipe.SIsMember(ctx, x.enginesKey, string(id))
	meta := pipe.HMGet(ctx, x.mp+string(id), "state", "next", "gap")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return EngineInfo{}, unavailable("engine", err)
	}
	if !member.Val() {
		return EngineInfo{}, nil
	}
	v := meta.Val()
	str := func(i int) string { s, _ := v[i].(string); return s }
	info := EngineInfo{}
	info.Next, _ = strconv.ParseUint(str(1), 10, 64)
	info.GapEnd, _ = strconv.ParseUint(str(2), 10, 64)
	switch str(0) {
	case "l":
		info.State = EngineLive
	case "b":
		info.State = EngineBehind
	case "s":
		info.State = EngineStale
	}
	return info, nil
}

// Stats implements Index.
func (x *RedisIndex) Stats(ctx context.Context) (IndexStats, error) {
	ctx, cancel := x.ctx(ctx)
	defer cancel()
	pipe := x.rdb.Pipeline()
	counts := pipe.HGetAll(ctx, x.statsKey)
	size := pipe.DBSize(ctx)
	states := statesScript.Eval(ctx, pipe, []string{x.enginesKey}, x.mp)
	if _, err := pipe.Exec(ctx); err != nil {
		return IndexStats{}, unavailable("stats", err)
	}
	c := counts.Val()
	u := func(k string) uint64 { n, _ := strconv.ParseUint(c[k], 10, 64); return n }
	st := IndexStats{Keys: size.Val(), Entries: -1,
		Applied: u("applied"), Duplicates: u("duplicates"), Gaps: u("gaps"), Refused: u("refused"),
		Replayed: u("replayed"), Events: u("events"), BlocksStored: u("stored"), BlocksRemoved: u("removed"),
		Clears: u("clears"), Drops: u("drops"), Resyncs: u("resyncs"), MarkedStale: u("stale")}
	if s, err := states.Int64Slice(); err == nil && len(s) == 3 {
		st.Live, st.Behind, st.Stale = int(s[0]), int(s[1]), int(s[2])
	} else if err != nil {
		return IndexStats{}, unavailable("stats", err)
	}
	return st, nil
}

// Close implements Index: later calls return ErrClosed; a client made by
// NewRedisIndex is closed.
func (x *RedisIndex) Close() error {
	if x.closed.Swap(true) || !x.own {
		return nil
	}
	if err := x.rdb.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
		return err
	}
	return nil
}
