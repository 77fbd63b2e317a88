package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// label is run i's name in the charts: policyLabel and the block size.
func (r *report) label(i int) string {
	res := r.Runs[i]
	if res.BlockSize > 0 {
		return fmt.Sprintf("%s/%d", r.policyLabel(res), res.BlockSize)
	}
	return r.policyLabel(res)
}

// writeCharts writes the memory breakdown (stacked bars) and batch size over time as
// SVG and PNG into dir, returning the files written.
func (r *report) writeCharts(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for name, build := range map[string]func() (*plot.Plot, error){
		"memory-breakdown": r.breakdownChart,
		"batch-over-time":  r.batchChart,
	} {
		p, err := build()
		if err != nil {
			return nil, err
		}
		for _, ext := range []string{".svg", ".png"} {
			f := filepath.Join(dir, name+ext)
			if err := p.Save(7*vg.Inch, 4.5*vg.Inch, f); err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}

func (r *report) breakdownChart() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("KV memory, time-averaged (%s on %s)", r.Model, r.GPU)
	p.Y.Label.Text = "% of KV capacity"
	p.Y.Max = 135 // room for the legend above the bars
	parts := []struct {
		name string
		get  func(i int) float64
		col  color.Color
	}{
		{"token states", func(i int) float64 { return r.Runs[i].TokenStatesPct }, color.RGBA{46, 125, 50, 255}},
		{"reserved", func(i int) float64 { return r.Runs[i].ReservedPct }, color.RGBA{249, 168, 37, 255}},
		{"internal frag.", func(i int) float64 { return r.Runs[i].InternalFragPct }, color.RGBA{229, 57, 53, 255}},
		{"external frag. & other", func(i int) float64 { return r.Runs[i].ExternalFragPct }, color.RGBA{158, 158, 158, 255}},
	}
	var below *plotter.BarChart
	names := make([]string, len(r.Runs))
	for i := range r.Runs {
		names[i] = r.label(i)
	}
	for _, part := range parts {
		vals := make(plotter.Values, len(r.Runs))
		for i := range vals {
			vals[i] = part.get(i)
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(40))
		if err != nil {
			return nil, err
		}
		bars.Color = part.col
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		p.Add(bars)
		p.Legend.Add(part.name, bars)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	// Room beside the outer bars for their labels, which are wider than the bars.
	p.X.Min, p.X.Max = -0.75, float64(len(names)-1)+0.75
	return p, nil
}

func (r *report) batchChart() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Running requests over time"
	p.X.Label.Text = "simulated time (s)"
	p.Y.Label.Text = "batched requests"
	for i, res := range r.Runs {
		step := max(1, len(res.BatchSeries)/2000)
		var pts plotter.XYs
		for j := 0; j < len(res.BatchSeries); j += step {
			pts = append(pts, plotter.XY{X: res.BatchSeries[j].T, Y: res.BatchSeries[j].V})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		p.Add(l)
		p.Legend.Add(r.label(i), l)
	}
	p.Legend.Top = true
	return p, nil
}
