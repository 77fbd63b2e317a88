package main

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// maxChartPoints bounds the points of one line (longer series are thinned).
const maxChartPoints = 2000

// writeCharts writes cluster mode's charts as SVG and PNG into dir: the TTFT CDF
// per router, the hit rate per router, and each router's load (outstanding
// requests) per engine over time. It returns the files written.
func (r *clusterReport) writeCharts(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	charts := []struct {
		name  string
		build func() (*plot.Plot, error)
	}{{"ttft-cdf", r.ttftChart}, {"hit-rate", r.hitChart}}
	for i := range r.Runs {
		charts = append(charts, struct {
			name  string
			build func() (*plot.Plot, error)
		}{"load-" + r.Runs[i].Router, func() (*plot.Plot, error) { return r.loadChart(i) }})
	}
	var files []string
	for _, c := range charts {
		p, err := c.build()
		if err != nil {
			return nil, err
		}
		for _, ext := range []string{".svg", ".png"} {
			f := filepath.Join(dir, c.name+ext)
			if err := p.Save(7*vg.Inch, 4.5*vg.Inch, f); err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}

func (r *clusterReport) ttftChart() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("TTFT, %s (%s of %s)", r.Workload, plural(r.Engines, "engine"), r.Model)
	p.X.Label.Text = "time to first token (s, log scale)"
	p.Y.Label.Text = "fraction of requests"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	for i, res := range r.Runs {
		n := len(res.TTFTs)
		if n == 0 {
			continue
		}
		step := max(1, n/maxChartPoints)
		var pts plotter.XYs
		for j := 0; j < n; j += step {
			pts = append(pts, plotter.XY{X: max(res.TTFTs[j], 1e-4), Y: float64(j+1) / float64(n)})
		}
		pts = append(pts, plotter.XY{X: max(res.TTFTs[n-1], 1e-4), Y: 1})
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		p.Add(l)
		p.Legend.Add(res.Router, l)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

func (r *clusterReport) hitChart() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Prefix-cache hit rate (%s cache)", r.CacheMode)
	p.Y.Label.Text = "% of prompt tokens not computed"
	vals := make(plotter.Values, len(r.Runs))
	names := make([]string, len(r.Runs))
	for i, res := range r.Runs {
		vals[i], names[i] = res.HitRatePct, res.Router
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(40))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalX(names...)
	p.Y.Min, p.Y.Max = 0, 100
	p.X.Min, p.X.Max = -0.75, float64(len(names)-1)+0.75
	return p, nil
}

func (r *clusterReport) loadChart(i int) (*plot.Plot, error) {
	res := r.Runs[i]
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Outstanding requests per engine, router %s", res.Router)
	p.X.Label.Text = "simulated time (s)"
	p.Y.Label.Text = "requests routed, not finished"
	for j, e := range res.PerEngine {
		step := max(1, len(e.LoadSeries)/maxChartPoints)
		var pts plotter.XYs
		for k := 0; k < len(e.LoadSeries); k += step {
			pts = append(pts, plotter.XY{X: e.LoadSeries[k].T, Y: e.LoadSeries[k].V})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(j)
		p.Add(l)
		if len(res.PerEngine) <= 16 {
			p.Legend.Add(e.Engine, l)
		}
	}
	p.Legend.Top = true
	return p, nil
}
