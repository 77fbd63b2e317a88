package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// LengthDist is a log-normal length distribution truncated to [Min, Max] (by
// rejection).
type LengthDist struct {
	Mu, Sigma float64
	Min, Max  int
}

func (d LengthDist) sample(src rand.Source, limit int) int {
	ln := distuv.LogNormal{Mu: d.Mu, Sigma: d.Sigma, Src: src}
	hi := min(d.Max, limit)
	for range 1000 {
		if v := int(math.Round(ln.Rand())); v >= d.Min && v <= hi {
			return v
		}
	}
	return max(d.Min, min(hi, int(math.Exp(d.Mu))))
}

func (d LengthDist) validate(what string) error {
	if !finite(d.Mu) || !finite(d.Sigma) || d.Sigma < 0 || d.Min < 1 || d.Max < d.Min || d.Max > MaxTokens {
		return fmt.Errorf("%w: %s length distribution %+v (want finite Mu, Sigma ≥ 0, 1 ≤ Min ≤ Max ≤ %d)",
			ErrInvalid, what, d, MaxTokens)
	}
	return nil
}

// Profile is a dataset's length statistics.
type Profile struct {
	Name          string
	Input, Output LengthDist
	MaxTotal      int     // prompt + output cap (vLLM's ShareGPT filter: 2048)
	PaperMeanIn   float64 // published means, for reports
	PaperMeanOut  float64
}

// Validate checks both length distributions and that MaxTotal leaves room for the
// shortest prompt and output.
func (p Profile) Validate() error {
	if err := p.Input.validate(p.Name + " input"); err != nil {
		return err
	}
	if err := p.Output.validate(p.Name + " output"); err != nil {
		return err
	}
	if p.MaxTotal < p.Input.Min+p.Output.Min || p.MaxTotal > 2*MaxTokens {
		return fmt.Errorf("%w: profile %q: MaxTotal %d not in [%d, %d]", ErrInvalid, p.Name, p.MaxTotal,
			p.Input.Min+p.Output.Min, 2*MaxTokens)
	}
	return nil
}

// The built-in profiles' parameters were fitted so the truncated means match the
// vLLM paper's dataset means (§6.1: ShareGPT 161.31 in / 337.99 out; Alpaca 19.31 /
// 58.45) under vLLM's benchmark filter (each part ≥ 4, prompt ≤ 1024, total ≤
// 2048); the spread (σ) is chosen to give the long right tail of the paper's
// Fig. 11. TestProfileMeans checks the means.
var profiles = map[string]Profile{
	"sharegpt": {Name: "ShareGPT-like",
		Input:    LengthDist{Mu: 4.64, Sigma: 1.1, Min: 4, Max: 1024},
		Output:   LengthDist{Mu: 5.45, Sigma: 1.05, Min: 4, Max: 2044},
		MaxTotal: 2048, PaperMeanIn: 161.31, PaperMeanOut: 337.99},
	"alpaca": {Name: "Alpaca-like",
		Input:    LengthDist{Mu: 2.775, Sigma: 0.6, Min: 4, Max: 1024},
		Output:   LengthDist{Mu: 3.72, Sigma: 0.85, Min: 4, Max: 2044},
		MaxTotal: 2048, PaperMeanIn: 19.31, PaperMeanOut: 58.45},
}

// ShareGPT is the ShareGPT-like profile (the vLLM paper's default workload).
func ShareGPT() Profile { return profiles["sharegpt"] }

// Alpaca is the Alpaca-like profile (short prompts; the paper's sharing figures).
func Alpaca() Profile { return profiles["alpaca"] }

// LookupProfile returns the built-in profile with that key (see ProfileNames).
func LookupProfile(name string) (Profile, error) {
	if p, ok := profiles[name]; ok {
		return p, nil
	}
	return Profile{}, fmt.Errorf("%w: unknown profile %q (want one of %v)", ErrInvalid, name, ProfileNames())
}

// ProfileNames returns the built-in profiles' keys, sorted.
func ProfileNames() []string {
	keys := make([]string, 0, len(profiles))
	for k := range profiles {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
