package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a bar on stderr once a run has lasted a second, if stderr is a
// terminal.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	drawn bool
}

func newProgress(w io.Writer, want bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && want {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(label string, frac float64) {
	if !p.on || time.Since(p.start) < time.Second {
		return
	}
	const width = 30
	n := min(width, max(0, int(frac*width)))
	fmt.Fprintf(p.w, "\r[%-*s] %3.0f%% %-24s", width, strings.Repeat("#", n), 100*frac, label)
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%*s\r", 64, "")
	}
}
