package prefix

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pickleValue pickles a Python-like value: []any is a tuple, int64 an int, string a
// str, []byte a bytes object, nil None.
func pickleValue(p *pickler, v any) {
	switch v := v.(type) {
	case []any:
		p.tupleStart(len(v))
		for _, e := range v {
			pickleValue(p, e)
		}
		p.tupleEnd(len(v))
	case int64:
		p.int(v)
	case int:
		p.int(int64(v))
	case string:
		p.str(v)
	case []byte:
		p.bytes(v)
	case nil:
		p.none()
	default:
		panic(v)
	}
}

func pickled(v any) []byte {
	var p pickler
	p.begin(nil)
	pickleValue(&p, v)
	return p.end()
}

func tokenTuple(n int) []any {
	t := make([]any, n)
	for i := range t {
		t[i] = int64(i * 7919 % 200000)
	}
	return t
}

// The expected bytes come from CPython 3.11.7's pickle.dumps(value, protocol=5) (the
// C pickler vLLM's "sha256" uses), for the Python values named in each case; strings
// of two or more characters were fresh objects, as vLLM's keys are.
func TestPickleMatchesCPython(t *testing.T) {
	for _, c := range []struct {
		name  string
		value any
		n     int
		sum   string
		hex   string
	}{
		{"ints_strs", []any{strings.Repeat("x", 300), "é", "é", "", "", int64(1) << 31, -int64(1)<<31 - 1, -int64(1) << 31,
			int64(1)<<31 - 1, -int64(1) << 39, -int64(1) << 40, int64(1) << 62, -int64(1) << 63, int64(1<<63 - 1),
			255, 256, 65535, 65536, -1, 0, make([]byte, 300), "ab", "ab"},
			738, "020495ac8a470a5fc58d9c64815144b2e44f748dcc50d17c83901a63a4d4b5b9", "800595d70200000000000028582c010000787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878948c02c3a99468018c009468028a0500000080008a05ffffff7fff4a000000804affffff7f8a0500000000808a060000000000ff8a0800000000000000408a0800000000000000808a08ffffffffffffff7f4bff4d00014dffff4a000001004affffffff4b00422c010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000948c026162948c0261629474942e"},
		{"tuples", []any{[]any{}, []any{1}, []any{1, 2}, []any{1, 2, 3}, []any{1, 2, 3, 4}, nil},
			46, "002a0b72a9bc05ba36caf327eff7500ca82dcf300c65e8a87659c537257356aa", "800595230000000000000028294b0185944b014b0286944b014b024b038794284b014b024b034b0474944e74942e"},
		// A 20,000-token block: the payload crosses the 64 KiB frame target.
		{"frames", []any{[]byte(strings.Repeat("p", 32)), tokenTuple(20000), nil},
			86924, "0d858f84ccc9a340fda77d877544d194a4b8085bd880562da6331133b4cb08a5", ""},
		{"frames2", []any{[]byte(strings.Repeat("p", 32)), tokenTuple(13100), []any{"lora", []any{"img", -5}, "z"}},
			56973, "e29db0bc4addeb0177ab490ff912bfd371dbd15148ae52ec5d7463db24a7e3ec", ""},
		// Payloads of 64 KiB or more are written outside frames.
		{"bypass", []any{strings.Repeat("L", 70000), 1, strings.Repeat("M", 65535), 2, []byte(strings.Repeat("B", 65536))},
			201117, "00c97a67b2f6b6b82f2469033604840787f71db7caf7541f24dc332c751b48e6", ""},
	} {
		got := pickled(c.value)
		if c.hex != "" {
			require.Equal(t, c.hex, hex.EncodeToString(got), c.name)
		}
		require.Len(t, got, c.n, c.name)
		sum := sha256.Sum256(got)
		require.Equal(t, c.sum, hex.EncodeToString(sum[:]), c.name)
	}
}

// pickle.dumps("0") is the NONE_HASH seed of PYTHONHASHSEED=0 (also a golden vector).
func TestPickleRoot(t *testing.T) {
	var p pickler
	require.Equal(t, "80059505000000000000008c0130942e", hex.EncodeToString(p.root(nil, "0")))
}
