package pagedpub

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/pagedkv/pagedkv/internal/testref"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/stretchr/testify/require"
)

// goldenPayloads returns the msgpack payload of every case of event-vectors.json
// by name.
func goldenPayloads(t testing.TB) map[string][]byte { return testref.EventPayloads(t) }

// hashCase is one case of hash-vectors.json: its inputs and every block's 64-bit
// event id.
type hashCase struct {
	Name   string `json:"name"`
	Inputs struct {
		Prompt  []int32 `json:"prompt_token_ids"`
		MMItems []struct {
			Identifier string `json:"identifier"`
			Offset     int    `json:"offset"`
			Length     int    `json:"length"`
		} `json:"mm_items"`
	} `json:"inputs"`
	Blocks []struct {
		Uint64 struct {
			Dec uint64 `json:"dec,string"`
		} `json:"uint64"`
		DigestHex string `json:"digest_hex"`
	} `json:"blocks"`
}

func goldenHashes(t testing.TB) map[string]hashCase {
	t.Helper()
	raw, err := os.ReadFile(testref.File(t, "hash-vectors.json"))
	require.NoError(t, err)
	var f struct {
		Cases []hashCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	out := map[string]hashCase{}
	for _, c := range f.Cases {
		out[c.Name] = c
	}
	return out
}

// encodingSink encodes each batch as a kvevents.Publisher would (rank 0 stamped
// into a batch without one) and keeps the payloads.
type encodingSink struct {
	payloads [][]byte
	fail     error
}

func (s *encodingSink) Publish(b *kvevents.Batch) (uint64, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	c := *b
	if !c.DataParallelRank.Valid {
		c.DataParallelRank = kvevents.Some(int64(0))
	}
	p, err := kvevents.EncodeBatch(&c)
	if err != nil {
		return 0, err
	}
	s.payloads = append(s.payloads, p)
	return uint64(len(s.payloads) - 1), nil
}

func (s *encodingSink) last(t testing.TB) []byte {
	t.Helper()
	require.NotEmpty(t, s.payloads)
	return s.payloads[len(s.payloads)-1]
}
