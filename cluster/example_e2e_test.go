package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serve runs a request to completion on an engine's Manager: its prompt's full
// blocks become cached (and reported as events).
func serve(m *paged.Manager, prompt []int32) {
	id, _ := m.Add(prompt, paged.SeqOptions{})
	adm, _ := m.Admit(id, len(prompt), 0, nil)
	_ = m.MarkComputed(id, adm.N)
	_ = m.Free(id)
}

// A fleet of two in-process engines (paged.Managers, as the simulator runs them):
// their prefix-cache events flow through ManagerSources and a Feed into a
// MemoryIndex, the precise router sends a request to the engine that caches its
// prefix, and a Prometheus scrape shows what happened.
func Example_endToEnd() {
	ctx := context.Background()
	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	feed, _ := cluster.NewFeed(cluster.FeedConfig{Index: idx, Manual: true}) // applied at Flush
	defer feed.Close()

	engines := []cluster.EngineID{"engine-a", "engine-b"}
	reg := prometheus.NewPedanticRegistry()
	managers := cluster.NewManagerCollector(cluster.CollectorOptions{})
	var ms []*paged.Manager
	var sources []*cluster.ManagerSource
	for _, e := range engines {
		cfg := paged.DefaultConfig()
		cfg.NumBlocks, cfg.BlockSize = 64, 4
		cfg.Events.Enabled = true
		m, _ := paged.New(cfg)
		src, _ := cluster.NewManagerSource(e, m)
		_ = managers.Add(string(e), m)
		ms, sources = append(ms, m), append(sources, src)
	}
	poll := func() {
		for _, s := range sources {
			_, _ = s.Poll(feed)
		}
		_ = feed.Flush(ctx)
	}
	poll() // the engines join the index (empty caches)

	system := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	serve(ms[1], append(append([]int32{}, system...), 100, 101, 102, 103, 104))
	poll()

	r, _ := cluster.NewRouter(cluster.RouterConfig{Engines: engines, Index: idx, Hash: cluster.HashConfig{BlockSize: 4}})
	next := append(append([]int32{}, system...), 200, 201, 202, 203, 204, 205, 206, 207)
	d, _ := r.Route(ctx, next, cluster.RouteOptions{})
	fmt.Printf("routed to %s, expecting %d of %d tokens cached\n", d.Engine, d.HitTokens, d.PromptTokens)
	serve(ms[d.EngineIndex], next)
	_ = r.Finish(d.Ticket, cluster.FinishOptions{})
	poll()

	reg.MustRegister(cluster.NewIndexCollector(idx, cluster.CollectorOptions{}), cluster.NewFeedCollector(feed, cluster.CollectorOptions{}),
		cluster.NewRouterCollector(r, cluster.CollectorOptions{}), managers)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	show := []string{"pagedkv_cluster_index_blocks_stored_total", "pagedkv_cluster_index_keys",
		`pagedkv_cluster_feed_batches_total{outcome="applied"}`, "pagedkv_cluster_router_decisions_total",
		"pagedkv_cluster_router_expected_hit_tokens_total", `vllm:prefix_cache_hits_total{engine="engine-b"}`}
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		for _, name := range show {
			if strings.HasPrefix(sc.Text(), name+" ") || strings.HasPrefix(sc.Text(), name+"{") {
				fmt.Println(sc.Text())
			}
		}
	}
	// Output:
	// routed to engine-b, expecting 16 of 24 tokens cached
	// pagedkv_cluster_feed_batches_total{outcome="applied"} 4
	// pagedkv_cluster_index_blocks_stored_total 7
	// pagedkv_cluster_index_keys 7
	// pagedkv_cluster_router_decisions_total{policy="precise"} 1
	// pagedkv_cluster_router_expected_hit_tokens_total 16
	// vllm:prefix_cache_hits_total{engine="engine-b"} 16
}
