package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/sim"
)

// hostCacheOptions are the host prefix-cache flags.
type hostCacheOptions struct {
	gib     []float64 // -host-cache-gib: the sizes to sweep (paged), GiB per engine
	policy  string
	minHits int
	async   bool
	// on: a host-cache flag was given. The results then carry sim.CacheDetail (JSON
	// fields and a second table); without the flags kvsim's output is as before.
	on bool
}

// hostCacheFlags are the flags that set hostCacheOptions.on.
var hostCacheFlags = []string{"host-cache-gib", "host-cache-policy", "host-cache-min-hits", "host-cache-async-offload"}

// addHostCacheFlags defines the host prefix-cache flags on fs; the size list is
// parsed by resolveHostCache.
func addHostCacheFlags(fs *flag.FlagSet, h *hostCacheOptions) (gib *string) {
	gib = fs.String("host-cache-gib", "", fmt.Sprintf("comma-separated sizes of a host prefix-cache tier to sweep, GiB per engine "+
		"(all its GPUs together), each in [0, %d] (paged; 0: none). Shares the host pool with -swap-gib; cluster mode sizes it "+
		"with -cache-tokens", sim.MaxHostCacheGiB))
	fs.StringVar(&h.policy, "host-cache-policy", sim.HostCacheWriteBack, "when device blocks are copied to the host tier: "+
		strings.Join(sim.HostCachePolicyNames(), ", "))
	fs.IntVar(&h.minHits, "host-cache-min-hits", 0, fmt.Sprintf("%s: prompt hits before a block is copied, at most %d "+
		"(0: %d; SGLang HiCache's threshold minus one, as it counts the insertion)", sim.HostCacheWriteThroughSelective,
		paged.MaxMinHits, sim.DefaultSelectiveMinHits))
	fs.BoolVar(&h.async, "host-cache-async-offload", false, "device→host copies overlap the forward pass (vLLM's OffloadingConnector, "+
		"HiCache): not charged to iterations; onloads always are (default: both charged, as swaps)")
	return gib
}

// resolveHostCache parses and checks the host prefix-cache flags (after
// resolveCluster: cluster mode sizes the tier with -cache-tokens instead).
func (o *options) resolveHostCache(fs *flag.FlagSet, gib string) error {
	h := &o.host
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	h.on = slices.ContainsFunc(hostCacheFlags, func(n string) bool { return set[n] })
	if set["host-cache-gib"] {
		for _, part := range strings.Split(gib, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil || !(v >= 0 && v <= sim.MaxHostCacheGiB) {
				return usagef("-host-cache-gib entry %q: want a number of GiB in [0, %d]", strings.TrimSpace(part), sim.MaxHostCacheGiB)
			}
			h.gib = append(h.gib, v)
		}
	}
	if !slices.Contains(sim.HostCachePolicyNames(), h.policy) {
		return usagef("unknown -host-cache-policy %q (want %s)", h.policy, strings.Join(sim.HostCachePolicyNames(), ", "))
	}
	if err := checkInt("-host-cache-min-hits", h.minHits, 0, paged.MaxMinHits); err != nil {
		return err
	}
	if h.minHits > 0 && h.policy != sim.HostCacheWriteThroughSelective {
		return usagef("-host-cache-min-hits %d needs -host-cache-policy %s", h.minHits, sim.HostCacheWriteThroughSelective)
	}
	policySet := set["host-cache-policy"] || set["host-cache-min-hits"] || set["host-cache-async-offload"]
	if o.cl.on {
		bs := o.blockSizes[0]
		switch {
		case set["host-cache-gib"]:
			return usagef("-host-cache-gib: cluster mode sizes each engine's host tier with -cache-tokens (GPU and host tiers together)")
		case policySet && o.cl.cacheTokens/bs <= o.hw.KVSlots()/bs:
			return usagef("-host-cache-policy, -host-cache-min-hits and -host-cache-async-offload need a host tier: in cluster mode "+
				"-cache-tokens beyond the GPUs' %d KV tokens", o.hw.KVSlots())
		}
		return nil
	}
	if policySet && len(h.gib) == 0 {
		return usagef("-host-cache-policy, -host-cache-min-hits and -host-cache-async-offload need -host-cache-gib")
	}
	if anyHostGiB(h.gib) {
		switch {
		case !o.prefixCaching:
			return usagef("-host-cache-gib needs prefix caching (the host tier is a prefix cache): drop -prefix-caching=false")
		case o.hw.Model.HasLocalAttention() && o.windowFreeing:
			return usagef("-host-cache-gib with %s's sliding-window or chunked-local layers needs -window-freeing=false", o.hw.Model.Name)
		}
	}
	return nil
}

// hostSizes returns the host-cache sizes to run a paged block size with: the
// sweep, or one run without a tier.
func (o *options) hostSizes() []float64 {
	if len(o.host.gib) == 0 {
		return []float64{0}
	}
	return o.host.gib
}

// setHostCache configures a paged run's host tier of gib GiB.
func (o *options) setHostCache(cfg *sim.Config, gib float64) {
	if gib == 0 {
		return
	}
	cfg.HostCacheGiB, cfg.HostCachePolicy, cfg.AsyncOffload = gib, o.host.policy, o.host.async
	if o.host.policy == sim.HostCacheWriteThroughSelective {
		cfg.HostCacheMinHits = o.host.minHits
	}
}

// jsonRuns returns the runs as the JSON prints them: without sim.CacheDetail unless
// a host-cache flag was given (kvsim's JSON keeps its earlier form).
func (r *report) jsonRuns() []*sim.Result {
	if r.detail {
		return r.Runs
	}
	runs := make([]*sim.Result, len(r.Runs))
	for i, res := range r.Runs {
		c := *res
		c.CacheDetail = nil
		runs[i] = &c
	}
	return runs
}

// writeCacheTable prints the prefix cache by tier, the host tier's copies and the
// TTFT distribution of each run that ran (with the host-cache flags).
func (r *report) writeCacheTable(w io.Writer) error {
	fmt.Fprintln(w, "\nprefix cache (hit% = device% + host%; saved% = prefill FLOPs the hits saved; copy s = time host-tier copies added)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tblock\thost GiB\thost tokens\tcache tokens\thit%\tdevice%\thost%\tsaved%\tonloaded\toffloaded\tcopy s\tTTFT mean\tp50\tp90\t")
	for _, res := range r.Runs {
		d := res.CacheDetail
		if !res.Ran() || d == nil {
			continue
		}
		block := "—"
		if res.BlockSize > 0 {
			block = fmt.Sprint(res.BlockSize)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.1f\t%.3f\t%.3f\t%.3f\t\n", res.Policy, block,
			gibLabel(d), d.HostTokens, d.CacheTokens, d.HitRatePct, d.DeviceHitPct, d.HostHitPct, d.PrefillSavedPct,
			d.OnloadedBlocks, d.OffloadedBlocks, d.HostCopyS, d.TTFTMeanS, d.TTFTP50S, d.TTFTP90S)
	}
	return tw.Flush()
}

// gibLabel is the host column: the size and, when not write-back, the policy.
func gibLabel(d *sim.CacheDetail) string {
	if d.HostCacheGiB == 0 {
		return "0"
	}
	s := strconv.FormatFloat(d.HostCacheGiB, 'g', -1, 64)
	if d.HostCachePolicy != sim.HostCacheWriteBack {
		s += " " + d.HostCachePolicy
	}
	if d.AsyncOffload {
		s += " async"
	}
	return s
}

// anyHostGiB reports whether some size of the sweep is positive.
func anyHostGiB(gib []float64) bool {
	return slices.ContainsFunc(gib, func(v float64) bool { return v > 0 })
}
