package workload

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// A Parser reads one trace format from r and yields its requests in file order;
// name (the file's path) prefixes its errors, which wrap ErrInvalid and name the
// line: "name:line: what is wrong". The Source it returns can be ranged once.
// Parsers check every row against the limits of this package (MaxTokens,
// MaxArrival) and require arrivals in time order, so a bad row is an error before
// anything large is allocated.
type Parser func(r io.Reader, name string, opt TraceOptions) Source

// TraceOptions configures parsing.
type TraceOptions struct {
	// Seed drives what a format must invent (the Azure traces have lengths only:
	// their prompts are random token ids from this seed).
	Seed uint64
}

// Format is a trace file format: a parser and the file extensions it is chosen by.
// A new format is a new file that calls Register from its init function.
type Format struct {
	Name       string   // short name, e.g. "azure2023"
	Extensions []string // lower-case file extensions with the dot, e.g. ".csv"
	Doc        string   // one line for help texts
	Parse      Parser
}

var registry struct {
	sync.RWMutex
	byExt   map[string]Format
	formats []Format
}

// Register adds a trace format. It panics (a programming error, at init) when the
// format has no name, parser or extension, or an extension is already registered.
func Register(f Format) {
	registry.Lock()
	defer registry.Unlock()
	if f.Name == "" || f.Parse == nil || len(f.Extensions) == 0 {
		panic("workload: Register needs a name, a parser and at least one extension")
	}
	if registry.byExt == nil {
		registry.byExt = map[string]Format{}
	}
	for _, ext := range f.Extensions {
		if ext != strings.ToLower(ext) || !strings.HasPrefix(ext, ".") {
			panic(fmt.Sprintf("workload: format %s: extension %q must be lower case and start with a dot", f.Name, ext))
		}
		if g, dup := registry.byExt[ext]; dup {
			panic(fmt.Sprintf("workload: formats %s and %s both claim %s", g.Name, f.Name, ext))
		}
	}
	for _, ext := range f.Extensions {
		registry.byExt[ext] = f
	}
	registry.formats = append(registry.formats, f)
}

// Formats returns the registered formats, sorted by name.
func Formats() []Format {
	registry.RLock()
	defer registry.RUnlock()
	out := slices.Clone(registry.formats)
	slices.SortFunc(out, func(a, b Format) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func formatFor(path string) (Format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	registry.RLock()
	f, ok := registry.byExt[ext]
	registry.RUnlock()
	if !ok {
		var exts []string
		for _, f := range Formats() {
			exts = append(exts, f.Extensions...)
		}
		return Format{}, fmt.Errorf("%w: %s: unknown trace format (want one of %s)", ErrInvalid, path, strings.Join(exts, ", "))
	}
	return f, nil
}

// OpenTrace returns a Source over the trace file at path, its format chosen by the
// file's extension (see Formats). It checks now that the file can be opened and its
// format is known; the file is read as the Source is ranged (again from the start
// on every range), so a trace of any length is never held whole.
func OpenTrace(path string, opt TraceOptions) (Source, error) {
	f, err := formatFor(path)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	file.Close()
	return func(yield func(Request, error) bool) {
		file, err := os.Open(path)
		if err != nil {
			yield(Request{}, fmt.Errorf("%w: %w", ErrInvalid, err))
			return
		}
		defer file.Close()
		f.Parse(file, path, opt)(yield)
	}, nil
}

// LoadTrace reads a whole trace file (see OpenTrace) into memory.
func LoadTrace(path string, opt TraceOptions) ([]Request, error) {
	src, err := OpenTrace(path, opt)
	if err != nil {
		return nil, err
	}
	return Collect(src)
}

// TracesDir returns the directory holding the public traces: $PAGEDKV_TRACES, or
// else ../shared/traces beside the module root (the nearest directory upwards from
// the working directory that has a go.mod), or else ../shared/traces.
func TracesDir() string {
	if d := os.Getenv("PAGEDKV_TRACES"); d != "" {
		return d
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.Join(dir, "..", "shared", "traces")
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
	}
	return filepath.Join("..", "shared", "traces")
}

// rowError formats a row's error: "name:line: msg", wrapping ErrInvalid.
func rowError(name string, line int, format string, a ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, name, line, fmt.Sprintf(format, a...))
}

// checkRow checks a parsed row's lengths and arrival against the limits and its
// predecessor's arrival (prev < 0: none).
func checkRow(name string, line, in, out int, arrival, prev float64) error {
	switch {
	case in < 1 || in > MaxTokens:
		return rowError(name, line, "prompt of %d tokens not in [1, %d]", in, MaxTokens)
	case out < 1 || out > MaxTokens:
		return rowError(name, line, "output of %d tokens not in [1, %d]", out, MaxTokens)
	case prev >= 0 && arrival < prev:
		return rowError(name, line, "arrival %.6g s is before the previous row's %.6g s (rows must be in time order)", arrival, prev)
	case !(arrival >= 0 && arrival <= MaxArrival):
		return rowError(name, line, "arrival %.6g s not in [0, %g] s", arrival, float64(MaxArrival))
	}
	return nil
}
