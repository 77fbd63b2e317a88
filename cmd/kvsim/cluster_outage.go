package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pagedkv/pagedkv/sim"
)

// parseOutages parses -outage: "ENGINE@AT[+FOR],..." (empty: none), ENGINE an
// engine's index or its name eN, AT and FOR seconds (no +FOR: the engine never
// returns), and checks the outages against the fleet (sim.ValidateOutages).
func parseOutages(spec string, engines int) ([]sim.Outage, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	var out []sim.Outage
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		e, rest, ok := strings.Cut(part, "@")
		at, dur, hasFor := rest, "", false
		if _, err := strconv.ParseFloat(rest, 64); err != nil {
			// AT+FOR: split at the first + with a number on both sides (an exponent
			// may carry its own +, in AT or in FOR).
			for i := 1; i < len(rest); i++ {
				if rest[i] != '+' {
					continue
				}
				_, errA := strconv.ParseFloat(rest[:i], 64)
				_, errF := strconv.ParseFloat(rest[i+1:], 64)
				if errA == nil && errF == nil {
					at, dur, hasFor = rest[:i], rest[i+1:], true
					break
				}
			}
		}
		engine, err1 := strconv.Atoi(strings.TrimPrefix(e, "e"))
		a, err2 := strconv.ParseFloat(at, 64)
		var d float64
		var err3 error
		if hasFor {
			d, err3 = strconv.ParseFloat(dur, 64)
		}
		if !ok || err1 != nil || err2 != nil || err3 != nil {
			return nil, usagef("-outage entry %q: want ENGINE@AT[+FOR] (an engine index, seconds)", part)
		}
		if hasFor && d == 0 {
			return nil, usagef("-outage entry %q: +FOR must be positive (leave it out for an engine that never returns)", part)
		}
		out = append(out, sim.Outage{Engine: engine, At: a, For: d})
	}
	if err := sim.ValidateOutages(engines, out); err != nil {
		msg := strings.TrimPrefix(err.Error(), sim.ErrInvalid.Error()+": cluster: Outages: ")
		return nil, usagef("-outage %s (-engines %d): %s", spec, engines, msg)
	}
	return out, nil
}

// writeOutages prints, per run, the requests the outages re-routed and each
// engine's time down.
func (r *clusterReport) writeOutages(w io.Writer) {
	for _, res := range r.Runs {
		var down []string
		for _, e := range res.PerEngine {
			if e.DownS > 0 || e.Rerouted > 0 {
				down = append(down, fmt.Sprintf("%s down %.1f s, %d taken, %d done", e.Engine, e.DownS, e.Rerouted, e.RequestsCompleted))
			}
		}
		if len(down) > 0 || res.Rerouted > 0 {
			fmt.Fprintf(w, "%s: outages re-routed %s (%s)\n", res.Router, plural(res.Rerouted, "request"), strings.Join(down, "; "))
		}
	}
}
