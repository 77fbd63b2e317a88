package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

// runCluster is run's cluster mode: one fleet run per router, then the table or
// JSON and the charts.
func runCluster(o *options, stdout, stderr io.Writer, fail func(error) int) int {
	rep, err := simulateCluster(o, stderr)
	if err != nil {
		return fail(err)
	}
	if o.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout, o.cl.perEngine)
	}
	if err == nil && o.outDir != "" {
		var files []string
		if files, err = rep.writeCharts(o.outDir); err == nil && !o.json {
			fmt.Fprintf(stdout, "\ncharts: %v\n", files)
		}
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// simulateCluster runs the fleet once per router over the workload.
func simulateCluster(o *options, stderr io.Writer) (*clusterReport, error) {
	c := &o.cl
	src, name, err := o.source()
	if err != nil {
		return nil, err
	}
	engine := sim.Config{Hardware: o.hw, Policy: sim.PolicyPaged, BlockSize: o.blockSizes[0], DisablePrefixCaching: !o.prefixCaching,
		ChunkedPrefill: o.chunked, MaxBatchTokens: o.maxBatchTokens, MaxSeqs: o.maxSeqs, Seed: o.seed, SwapSpaceGiB: o.swapGiB,
		DisableWindowFreeing: !o.windowFreeing, GroupedEviction: o.groupedEviction}
	if o.host.on { // a host-cache flag for the -cache-tokens host tier (resolveHostCache checked there is one)
		engine.HostCachePolicy, engine.AsyncOffload = o.host.policy, o.host.async
		if o.host.policy == sim.HostCacheWriteThroughSelective {
			engine.HostCacheMinHits = o.host.minHits
		}
	}
	rep := &clusterReport{Workload: name, Model: o.hw.Model.Name, GPU: o.hw.GPU.Name, TP: o.hw.TP, Engines: c.engines,
		CacheMode: c.cacheMode, Selector: c.selector, context: o.hw.Model.MaxSeqLen}
	var windows []float64
	var stages []workload.Stage
	if o.isSharedPrefix() && len(c.sharedPrefix.Stages) > 1 {
		windows, stages = c.sharedPrefix.StageStarts(), c.sharedPrefix.Stages
		rep.stages = stages
	}
	bar := newProgress(stderr, o.progress)
	defer bar.done()
	for i, router := range c.routers {
		cfg := sim.ClusterConfig{Engine: engine, Engines: c.engines, Router: router, Selector: c.selector, CacheMode: c.cacheMode,
			CacheTokens: c.cacheTokens, ReplicaTokens: c.replicaTokens, NetGbps: c.netGbps, PrefillOnly: c.prefillOnly,
			Windows: windows, DrainWindows: windows != nil && c.drain, Outages: c.outages}
		if usesIndex(router, c.cacheMode) && c.index == "redis" {
			// One key space per process and router run: runs never see each
			// other's entries (the engines' entries are dropped at the start too).
			idx, err := cluster.NewRedisIndex(cluster.RedisConfig{Addr: c.redisAddr,
				Prefix: "pagedkv:{kvsim-" + strconv.Itoa(os.Getpid()) + "-" + router + "}:"})
			if err != nil {
				return nil, err
			}
			defer idx.Close()
			cfg.Index = idx
		}
		label := fmt.Sprintf("%s (%d/%d)", router, i+1, len(c.routers))
		cfg.Progress = func(f float64) { bar.update(label, (float64(i)+f)/float64(len(c.routers))) }
		r, err := sim.RunCluster(cfg, src)
		if err != nil {
			if cfg.Index != nil {
				err = fmt.Errorf("-index redis -redis-addr %s: %w", c.redisAddr, err)
			}
			return nil, err
		}
		rep.Requests = r.RequestsCompleted + r.RequestsRejected
		rep.Runs = append(rep.Runs, r)
	}
	if !rep.anyRan() {
		r := rep.Runs[0]
		return nil, fmt.Errorf("nothing ran: all %s were rejected (%d with prompts not shorter than %s's %d-token context, "+
			"%d too large for its KV memory)", plural(rep.Requests, "request"), r.RequestsTooLong, o.hw.Model.Name,
			o.hw.Model.MaxSeqLen, r.RequestsRejected-r.RequestsTooLong)
	}
	return rep, nil
}

// usesIndex reports whether a run keeps a cluster index (precise routing or a
// global cache).
func usesIndex(router, cacheMode string) bool {
	return router == string(cluster.PolicyPrecise) || cacheMode == sim.CacheGlobal
}
