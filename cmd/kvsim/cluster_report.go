package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

// clusterReport is cluster mode's output: one sim.ClusterResult per router; its
// JSON form is kvsim's cluster contract (README).
type clusterReport struct {
	Workload  string               `json:"workload"`
	Model     string               `json:"model"`
	GPU       string               `json:"gpu"`
	TP        int                  `json:"tp"`
	Requests  int                  `json:"requests"`
	Engines   int                  `json:"engines"`
	CacheMode string               `json:"cache_mode"`
	Selector  string               `json:"selector"`
	Runs      []*sim.ClusterResult `json:"runs"`
	context   int
	stages    []workload.Stage // the load ladder, when the workload has one
}

func (r *clusterReport) anyRan() bool {
	for _, res := range r.Runs {
		if res.RequestsCompleted > 0 {
			return true
		}
	}
	return false
}

func (r *clusterReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *clusterReport) writeTable(w io.Writer, perEngine bool) error {
	gpus := r.GPU
	if r.TP > 1 {
		gpus = fmt.Sprintf("%d× %s", r.TP, r.GPU)
	}
	fmt.Fprintf(w, "kvsim cluster: %s of %s on %s, workload %s, %s, %s cache, selector %s\n\n",
		plural(r.Engines, "engine"), r.Model, gpus, r.Workload, plural(r.Requests, "request"), r.CacheMode, r.Selector)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "router\thit%\thost%\tremote%\tsaved%\tTTFT mean\tp50\tp90\tp99\ttok/s\treq/s\timbalance\tpreempt\tdone\tdecisions/s\t")
	for _, res := range r.Runs {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%.2f\t%.2f\t%d\t%d\t%.0f\t\n", res.Router,
			res.HitRatePct, res.HostHitPct, res.RemoteHitPct, res.PrefillSavedPct, res.TTFTMeanS, res.TTFTP50S, res.TTFTP90S, res.TTFTP99S,
			res.ThroughputTokS, res.ThroughputReqS, res.Imbalance, res.Preemptions, res.RequestsCompleted, res.RouterDecisionsPerS)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(hit%: prompt tokens not computed; host%: of them found in the engine's host tier; remote%: loaded from another engine;")
	fmt.Fprintln(w, " saved%: prefill FLOPs saved; TTFT in s)")
	if res := r.Runs[0]; res.HostTokens > 0 {
		fmt.Fprintf(w, "each engine caches %d tokens: %d on the GPUs, %d in host memory\n", res.CacheTokens,
			res.CacheTokens-res.HostTokens, res.HostTokens)
	}
	if len(r.stages) > 0 {
		if err := r.writeStages(w); err != nil {
			return err
		}
	}
	if perEngine {
		if err := r.writeEngines(w); err != nil {
			return err
		}
	}
	r.writeOutages(w)
	var wall float64
	for _, res := range r.Runs {
		wall += res.WallS
		if res.RequestsRejected > 0 {
			fmt.Fprintf(w, "%s: %s rejected (%d with prompts not shorter than the model's %d-token context)\n", res.Router,
				plural(res.RequestsRejected, "request"), res.RequestsTooLong, r.context)
		}
		if res.Transfers > 0 {
			fmt.Fprintf(w, "%s: %s loaded a prefix from another engine (mean %.3f s)\n", res.Router,
				plural(res.Transfers, "request"), res.TransferMeanS)
		}
		if res.IndexErrors > 0 {
			fmt.Fprintf(w, "%s: %s to the %s index failed (routed on load alone meanwhile)\n", res.Router,
				plural(res.IndexErrors, "call"), res.Index)
		}
	}
	fmt.Fprintf(w, "simulated in %.2fs\n", wall)
	return nil
}

// writeStages prints TTFT p90 and output throughput per stage of the load ladder,
// one column pair per router.
func (r *clusterReport) writeStages(w io.Writer) error {
	fmt.Fprintln(w, "\nby stage (TTFT p90 in s, output tok/s):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "stage\treq/s\t")
	for _, res := range r.Runs {
		fmt.Fprintf(tw, "%s p90\ttok/s\t", res.Router)
	}
	fmt.Fprintln(tw)
	for i, st := range r.stages {
		fmt.Fprintf(tw, "%d\t%g\t", i, st.Rate)
		for _, res := range r.Runs {
			if i < len(res.Windows) {
				fmt.Fprintf(tw, "%.2f\t%.0f\t", res.Windows[i].TTFTP90S, res.Windows[i].ThroughputTokS)
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// writeEngines prints one row per engine of every run.
func (r *clusterReport) writeEngines(w io.Writer) error {
	for _, res := range r.Runs {
		fmt.Fprintf(w, "\n%s, per engine:\n", res.Router)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "engine\trouted\tdone\thit%\thost%\tremote%\tTTFT mean\tp90\ttok/s\toutstanding\tpeak\tbatch\tpreempt\t")
		for _, e := range res.PerEngine {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%.0f\t%.2f\t%d\t%.1f\t%d\t\n", e.Engine, e.RequestsRouted,
				e.RequestsCompleted, e.HitRatePct, e.HostHitPct, e.RemoteHitPct, e.TTFTMeanS, e.TTFTP90S, e.ThroughputTokS, e.MeanOutstanding,
				e.PeakOutstanding, e.MeanBatch, e.Preemptions)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
