package cluster

import "github.com/redis/go-redis/v9"

// Redis layout (P is RedisConfig.Prefix, default "pagedkv:{default}:"; the braces
// are a hash tag, so every key of one index lies in one Redis Cluster slot and the
// scripts may touch them together):
//
//	P b:<hash as 16 lower-case hex digits>   HASH  field "<engine>|<tier>|<gen>", tier g
//	                                                (GPU) or c (CPU), value the block
//	                                                count (1..255, 255 = saturated);
//	                                                TTL RedisConfig.KeyTTL, renewed when an
//	                                                engine stores it or a match uses it
//	P e:<engine>                             HASH  state (u unknown, l live, b behind,
//	                                                s stale), next, gap, gen, fresh (1/0)
//	P engines                                SET   engines known (not dropped)
//	P stats                                  HASH  counters (applied, duplicates, gaps,
//	                                                refused, replayed, events, stored,
//	                                                removed, clears, drops, resyncs, stale)
//
// gen is the engine's generation: Cleared, DropEngine and a discarding Resync bump
// it, which kills every block field written under an older gen at once (O(1), no
// scan). A dead field is ignored by matching and expires with its key's TTL (a block
// key holds at most one live field per engine and tier). Keeping gen in the field
// name makes a store one HINCRBY and lets matching skip value parsing. Meta keys carry no TTL and
// are never deleted (a dropped engine keeps its gen so its old fields stay dead); run
// Redis with maxmemory-policy volatile-lru so memory pressure evicts block keys only
// (a lost block key is a miss, never a stale hit).
//
// Every batch is one EVALSHA of applyScript: it reads the engine's meta, decides the
// outcome by the sequence rules, applies every event and writes the new meta and
// counters — atomically, since Redis runs a script to completion without
// interleaving. A batch costs O(its hashes) commands; ApplyBatches sends many batches
// in one pipeline (one round trip). Match is one EVALSHA of matchScript: O(blocks
// matched × fields per key) server work, stopping at the first block that extends no
// run. Scripts build their keys from ARGV (declared keys would not fit a variable
// batch); the hash tag keeps them in one slot.

// applyScript: KEYS meta, stats, engines set. ARGV block prefix, engine, seq, ttl ms,
// then pairs (code, hex hashes); code is "Sg", "Sc", "Rg", "Rc" or "C-".
// Returns {outcome, next} with outcome 1 applied, 2 duplicate, 3 gap, 4 refused.
var applyScript = redis.NewScript(`
local meta, stats = KEYS[1], KEYS[2]
local bp, eng, seq, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local m = redis.call('HMGET', meta, 'state', 'next', 'gap', 'gen', 'fresh')
local state = m[1] or 'u'
local fresh = (m[1] == false) or (m[5] == '1')
local nxt = tonumber(m[2]) or 0
local gap = tonumber(m[3]) or 0
local gen = tonumber(m[4]) or 0
local function fmt(n) return string.format('%d', n) end
if state == 's' then
  redis.call('HINCRBY', stats, 'refused', 1)
  return {4, nxt}
end
if not fresh then
  if seq < nxt then
    redis.call('HINCRBY', stats, 'duplicates', 1)
    return {2, nxt}
  end
  if seq > nxt then
    if seq > gap then gap = seq end
    redis.call('HSET', meta, 'state', 'b', 'gap', fmt(gap))
    redis.call('HINCRBY', stats, 'gaps', 1)
    return {3, nxt}
  end
end
if state == 'b' then redis.call('HINCRBY', stats, 'replayed', 1) end
local stored, removed, clears, events = 0, 0, 0, 0
local i = 5
while i <= #ARGV do
  local code, hs = ARGV[i], ARGV[i + 1]
  local kind = string.sub(code, 1, 1)
  events = events + 1
  if kind == 'C' then
    gen = gen + 1
    clears = clears + 1
  else
    local field = eng .. '|' .. string.sub(code, 2, 2) .. '|' .. fmt(gen)
    for p = 1, #hs, 16 do
      local key = bp .. string.sub(hs, p, p + 15)
      if kind == 'S' then
        if redis.call('HINCRBY', key, field, 1) > 255 then redis.call('HSET', key, field, '255') end
        if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
        stored = stored + 1
      else
        local c = redis.call('HINCRBY', key, field, -1)
        if c <= 0 or c == 254 then redis.call('HDEL', key, field) end
        removed = removed + 1
      end
    end
  end
  i = i + 2
end
nxt = seq + 1
if not (state == 'b' and nxt <= gap) then
  state, gap = 'l', 0
end
redis.call('HSET', meta, 'state', state, 'next', fmt(nxt), 'gap', fmt(gap), 'gen', fmt(gen), 'fresh', '0')
redis.call('SADD', KEYS[3], eng)
redis.call('HINCRBY', stats, 'applied', 1)
if events > 0 then redis.call('HINCRBY', stats, 'events', events) end
if stored > 0 then redis.call('HINCRBY', stats, 'stored', stored) end
if removed > 0 then redis.call('HINCRBY', stats, 'removed', removed) end
if clears > 0 then redis.call('HINCRBY', stats, 'clears', clears) end
return {1, nxt}
`)

// matchScript: ARGV block prefix, meta prefix, hex hashes, ttl ms. Returns a flat
// array engine, blocks, gpu blocks for every live engine holding block 0. Every key
// that extended a run gets its TTL renewed: a block engines keep cached for days
// without storing it again (a hot system prompt) stays indexed while it is matched.
// Each distinct field is parsed once per call.
var matchScript = redis.NewScript(`
local bp, mp, hs, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local gens, runs, gpus, lastg, order, finfo = {}, {}, {}, {}, {}, {}
local function info(f)
  local fi = finfo[f]
  if fi == nil then
    fi = false
    local s = string.find(f, '|[gc]|%d+$')
    if s then
      local eng = string.sub(f, 1, s - 1)
      local g = gens[eng]
      if g == nil then
        local m = redis.call('HMGET', mp .. eng, 'state', 'gen')
        if m[1] == 'l' then g = tonumber(m[2]) or 0 else g = false end
        gens[eng] = g
      end
      if g and tonumber(string.sub(f, s + 3)) == g then
        fi = {eng, string.sub(f, s + 1, s + 1) == 'g'}
      end
    end
    finfo[f] = fi
  end
  return fi
end
for i = 0, #hs / 16 - 1 do
  local key = bp .. string.sub(hs, i * 16 + 1, i * 16 + 16)
  local kv = redis.call('HGETALL', key)
  local ext = 0
  for j = 1, #kv, 2 do
    local fi = info(kv[j])
    if fi then
      local eng = fi[1]
      local r = runs[eng]
      if r == nil and i == 0 then
        runs[eng], gpus[eng], lastg[eng] = 1, 0, -1
        order[#order + 1] = eng
        r = 1
        ext = ext + 1
      elseif r == i then
        r = i + 1
        runs[eng] = r
        ext = ext + 1
      end
      if r == i + 1 and fi[2] and lastg[eng] ~= i then
        gpus[eng], lastg[eng] = gpus[eng] + 1, i
      end
    end
  end
  if ext == 0 then break end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
local out = {}
for _, eng in ipairs(order) do
  out[#out + 1] = eng
  out[#out + 1] = runs[eng]
  out[#out + 1] = gpus[eng]
end
return out
`)

// dropScript: KEYS meta, stats, engines set; ARGV engine. Returns 1 if dropped.
var dropScript = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then return 0 end
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen')) or 0
redis.call('HSET', KEYS[1], 'state', 'u', 'next', '0', 'gap', '0', 'gen', string.format('%d', gen + 1), 'fresh', '1')
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'drops', 1)
return 1
`)

// staleScript: KEYS meta, stats, engines set; ARGV engine.
var staleScript = redis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'state', 'fresh')
if m[1] == false or m[1] == 'u' then
  redis.call('HSET', KEYS[1], 'state', 's', 'next', '0', 'gap', '0', 'fresh', '1')
else
  redis.call('HSET', KEYS[1], 'state', 's')
end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'stale', 1)
return 1
`)

// resyncScript: KEYS meta, stats, engines set; ARGV engine, next. Returns 1 if the
// entries were kept, 0 if discarded.
var resyncScript = redis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'state', 'next', 'gap', 'gen', 'fresh')
local want = tonumber(ARGV[2])
local fresh = (m[1] == false) or (m[5] == '1')
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'resyncs', 1)
if not fresh and want == tonumber(m[2]) then
  local state = 'l'
  if (tonumber(m[3]) or 0) >= want then state = 'b' end
  redis.call('HSET', KEYS[1], 'state', state)
  return 1
end
local gen = (tonumber(m[4]) or 0) + 1
redis.call('HSET', KEYS[1], 'state', 'l', 'next', ARGV[2], 'gap', '0', 'gen', string.format('%d', gen), 'fresh', '0')
redis.call('HINCRBY', KEYS[2], 'drops', 1)
return 0
`)

// statesScript: KEYS engines set; ARGV meta prefix. Returns {live, behind, stale}.
var statesScript = redis.NewScript(`
local l, b, s = 0, 0, 0
for _, eng in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local st = redis.call('HGET', ARGV[1] .. eng, 'state')
  if st == 'l' then l = l + 1 elseif st == 'b' then b = b + 1 elseif st == 's' then s = s + 1 end
end
return {l, b, s}
`)
