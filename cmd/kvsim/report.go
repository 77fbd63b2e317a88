package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pagedkv/pagedkv/sim"
)

type report struct {
	Workload string        `json:"workload"`
	Model    string        `json:"model"`
	GPU      string        `json:"gpu"`
	Requests int           `json:"requests"`
	Runs     []*sim.Result `json:"runs"`
	context  int           // the model's context length
	paper    map[string]paperRef
	detail   bool // print sim.CacheDetail (the host-cache flags were given)
}

func (r *report) anyRan() bool {
	for _, res := range r.Runs {
		if res.Ran() {
			return true
		}
	}
	return false
}

func (r *report) ref(res *sim.Result) (paperRef, bool) {
	key := res.Policy
	if res.Policy == sim.PolicyPaged {
		key = fmt.Sprintf("paged@%d", res.BlockSize)
	}
	p, ok := r.paper[key]
	return p, ok
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	out := *r
	out.Runs = r.jsonRuns()
	return enc.Encode(&out)
}

func (r *report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "kvsim: %s on %s, workload %s, %s\n", r.Model, r.GPU, r.Workload, plural(r.Requests, "request"))
	if r.paper != nil {
		fmt.Fprintln(w, "(paper) = vLLM paper (Kwon et al., SOSP 2023): Fig. 2 token states, Fig. 13a mean batch")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	paperCol := func(s string) string {
		if r.paper == nil {
			return ""
		}
		return s + "\t"
	}
	header := fmt.Sprintf("policy\tblock\ttoken%%\t%sreserved%%\tint.frag%%\text.frag%%\tbatch\t%sreq/s\ttok/s\ts/token\tpreempt\thit%%\tdone\t",
		paperCol("(paper)"), paperCol("(paper)"))
	cols := strings.Count(header, "\t")
	fmt.Fprintln(tw, header)
	for _, res := range r.Runs {
		block := "—"
		if res.BlockSize > 0 {
			block = fmt.Sprint(res.BlockSize)
		}
		if !res.Ran() { // every request rejected: no figures
			fmt.Fprintf(tw, "%s\t%s\tnothing ran\t%s%d\t\n", r.policyLabel(res), block, strings.Repeat("\t", cols-4), res.RequestsCompleted)
			continue
		}
		p, ok := r.ref(res)
		paperTok, paperBatch := "—", "—"
		if ok && p.tokenPct > 0 {
			paperTok = fmt.Sprintf("%.1f", p.tokenPct)
		}
		if ok {
			paperBatch = fmt.Sprintf("%.2f", p.batch)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s%.1f\t%.1f\t%.1f\t%.2f\t%s%.2f\t%.0f\t%.3f\t%d\t%.1f\t%d\t\n",
			r.policyLabel(res), block, res.TokenStatesPct, paperCol(paperTok), res.ReservedPct, res.InternalFragPct, res.ExternalFragPct,
			res.MeanBatch, paperCol(paperBatch), res.ThroughputReqS, res.ThroughputTokS, res.NormalizedLatencyS,
			res.Preemptions, 100*res.PrefixHitRate, res.RequestsCompleted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.detail {
		if err := r.writeCacheTable(w); err != nil {
			return err
		}
	}
	var wall float64
	seen := map[string]bool{} // a sweep's runs share their notes: each is printed once
	note := func(format string, args ...any) {
		if line := fmt.Sprintf(format, args...); !seen[line] {
			seen[line] = true
			fmt.Fprint(w, line)
		}
	}
	for _, res := range r.Runs {
		wall += res.WallS
		if res.RequestsRejected > 0 || res.RequestsTruncated > 0 {
			note("%s: %s rejected (%d with prompts not shorter than the model's %d-token context, %d too large for KV memory), %s truncated at the context\n",
				res.Policy, plural(res.RequestsRejected, "request"), res.RequestsTooLong, r.context,
				res.RequestsRejected-res.RequestsTooLong, plural(res.RequestsTruncated, "output"))
		}
		if res.SwapOuts > 0 {
			note("%s (block %d): %d of %s swapped to the host tier\n", res.Policy, res.BlockSize, res.SwapOuts,
				plural(res.Preemptions, "preemption"))
		}
		if res.SharingSavingsPct > 0 {
			note("%s (block %d): block sharing saves %.1f%% of KV blocks\n", res.Policy, res.BlockSize, res.SharingSavingsPct)
		}
	}
	fmt.Fprintf(w, "simulated in %.2fs\n", wall)
	return nil
}

// policyLabel is a run's name in the table and the charts: its policy, and its
// host prefix-cache tier when -host-cache-gib sets one (a sweep's rows would look
// alike otherwise).
func (r *report) policyLabel(res *sim.Result) string {
	if d := res.CacheDetail; r.detail && d != nil && d.HostCacheGiB > 0 {
		return res.Policy + " +host " + gibLabel(d)
	}
	return res.Policy
}
