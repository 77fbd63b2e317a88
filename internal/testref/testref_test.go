package testref

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSearchOrder(t *testing.T) {
	ref := t.TempDir()
	compat := filepath.Join(ref, "vllm-compat")
	if err := os.Mkdir(compat, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(dir, name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"cases":[{"name":"c","msgpack_hex":"93"}]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(compat, "a.json")
	write(ref, "a.json")
	write(ref, "b.json")
	write(compat, "event-vectors.json")
	t.Setenv("PAGEDKV_REFERENCE", ref)
	t.Setenv("PAGEDKV_VLLM_COMPAT", "/nonexistent")
	if got := Path("a.json"); got != filepath.Join(compat, "a.json") {
		t.Errorf("a.json: %q, want the vllm-compat/ copy", got)
	}
	if got := Path("b.json"); got != filepath.Join(ref, "b.json") {
		t.Errorf("b.json: %q, want the copy in the reference directory itself", got)
	}
	if got := Path("absent.json"); got != "" {
		t.Errorf("absent.json: %q", got)
	}
	t.Setenv("PAGEDKV_REFERENCE", "")
	t.Setenv("PAGEDKV_VLLM_COMPAT", compat)
	if got := Path("a.json"); got != filepath.Join(compat, "a.json") {
		t.Errorf("PAGEDKV_VLLM_COMPAT: %q", got)
	}
	dirs := Dirs()
	if len(dirs) != 2 || filepath.Base(dirs[1]) != "vllm-compat" || filepath.Base(filepath.Dir(dirs[1])) != "reference" {
		t.Errorf("without PAGEDKV_REFERENCE: %v, want PAGEDKV_VLLM_COMPAT then <root>/../shared/reference/vllm-compat", dirs)
	}
	t.Setenv("PAGEDKV_VLLM_COMPAT", "")
	t.Setenv("PAGEDKV_REFERENCE", ref)
	if p := EventPayloads(t); len(p) != 1 || len(p["c"]) != 1 || p["c"][0] != 0x93 {
		t.Errorf("EventPayloads: %v", p)
	}
}

// File skips, naming the setting, when the vectors are absent.
func TestFileSkipsWhenAbsent(t *testing.T) {
	t.Setenv("PAGEDKV_REFERENCE", t.TempDir())
	var skipped bool
	t.Run("absent", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		File(t, "hash-vectors.json")
		t.Error("File returned for an absent file")
	})
	if !skipped {
		t.Error("not skipped")
	}
}
