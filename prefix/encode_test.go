package prefix

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEncodeBlockLayout(t *testing.T) {
	ex := Extras{Adapter: "lo", CacheSalt: "s", MM: []MMItem{{ID: "img", Offset: 2, Length: 10}}}
	buf, extraStart := encodeBlock(nil, 7, []int32{1, -1}, &ex, 0, 2)
	require.Equal(t, 8+4+8, extraStart)
	require.Equal(t, []byte{7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, buf[:extraStart])
	// block 0 covers [0,2): the image starts at 2, so it does not overlap; salt is there.
	require.Equal(t, append(append([]byte{'L', 2, 0, 0, 0}, "lo"...), append([]byte{'S', 1, 0, 0, 0}, 's')...), buf[extraStart:])
	// block 1 covers [2,4): the image overlaps at relative offset 0; no salt.
	buf, extraStart = encodeBlock(nil, 7, []int32{1, 2}, &ex, 1, 2)
	want := append([]byte{'L', 2, 0, 0, 0}, "lo"...)
	want = append(want, 'M', 3, 0, 0, 0, 'i', 'm', 'g', 0, 0, 0, 0, 0, 0, 0, 0)
	require.Equal(t, want, buf[extraStart:])
	// block 2 covers [4,6): relative offset -2.
	buf, extraStart = encodeBlock(nil, 7, []int32{1, 2}, &ex, 2, 2)
	require.Equal(t, byte(0xfe), buf[extraStart+7+1+4+3])
}

// Prompt embeddings: each block carries the SHA-256 of its own rows; a block past the
// prompt carries SHA-256 of nothing.
func TestEncodeBlockEmbeds(t *testing.T) {
	emb := make([]byte, 3*8) // 3 rows of 8 bytes
	for i := range emb {
		emb[i] = byte(i)
	}
	ex := Extras{PromptEmbeds: emb, EmbedRowBytes: 8}
	require.NoError(t, ex.Validate())
	buf, extraStart := encodeBlock(nil, 0, []int32{0, 0}, &ex, 0, 2)
	sum := sha256.Sum256(emb[:16])
	require.Equal(t, append([]byte{tagEmbeds}, sum[:]...), buf[extraStart:])
	buf, extraStart = encodeBlock(nil, 0, []int32{0, 5}, &ex, 1, 2) // row 2, then a generated token
	sum = sha256.Sum256(emb[16:])
	require.Equal(t, append([]byte{tagEmbeds}, sum[:]...), buf[extraStart:])
	buf, extraStart = encodeBlock(nil, 0, []int32{6, 7}, &ex, 2, 2)
	sum = sha256.Sum256(nil)
	require.Equal(t, append([]byte{tagEmbeds}, sum[:]...), buf[extraStart:])
}
