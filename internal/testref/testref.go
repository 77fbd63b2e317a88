package testref

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Dirs returns the directories searched for the golden vectors, in order (see the
// package documentation).
func Dirs() []string {
	if d := os.Getenv("PAGEDKV_REFERENCE"); d != "" {
		return []string{filepath.Join(d, "vllm-compat"), d}
	}
	var dirs []string
	if d := os.Getenv("PAGEDKV_VLLM_COMPAT"); d != "" {
		dirs = append(dirs, d)
	}
	if root, ok := moduleRoot(); ok {
		dirs = append(dirs, filepath.Join(root, "..", "shared", "reference", "vllm-compat"))
	}
	return dirs
}

// Path returns the path of the golden-vector file name in the first directory of
// Dirs that holds it, or "" when none does.
func Path(name string) string {
	for _, d := range Dirs() {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// File returns Path(name), or skips tb with a message saying where it looked and
// how to point the tests at the files.
func File(tb testing.TB, name string) string {
	tb.Helper()
	p := Path(name)
	if p == "" {
		tb.Skipf("vLLM golden vectors %s not found in %v: set PAGEDKV_REFERENCE to the shared reference directory", name, Dirs())
	}
	return p
}

// EventPayloads returns the msgpack payload (msgpack_hex, decoded) of every case of
// event-vectors.json by case name; it skips tb when the file is absent and fails it
// when the file cannot be read as vectors.
func EventPayloads(tb testing.TB) map[string][]byte {
	tb.Helper()
	path := File(tb, "event-vectors.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Name string `json:"name"`
			Hex  string `json:"msgpack_hex"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	out := make(map[string][]byte, len(f.Cases))
	for _, c := range f.Cases {
		b, err := hex.DecodeString(c.Hex)
		if err != nil {
			tb.Fatalf("%s: case %s: %v", path, c.Name, err)
		}
		out[c.Name] = b
	}
	if len(out) == 0 {
		tb.Fatalf("%s holds no cases", path)
	}
	return out
}

// moduleRoot returns the nearest directory upwards from the working directory that
// holds a go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir, true
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", false
		}
		dir = up
	}
}
