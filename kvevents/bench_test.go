package kvevents

import (
	"context"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// storedBatch returns n BlockStored events as vLLM emits them: 16 blocks of 16
// tokens each, 64-bit hashes (most ≥ 2^63), token ids of a 152K vocabulary,
// extra_keys [None]*16, group 0, full attention.
func storedBatch(n int) *Batch {
	b := &Batch{TS: 1757500000.25, DataParallelRank: Some[int64](0)}
	h := uint64(0x9e3779b97f4a7c15)
	for e := range n {
		ev := Event{Type: BlockStored, BlockSize: 16, Medium: Some(MediumGPU),
			ExtraKeys: Some(make([]any, 16)), GroupIdx: Some[int64](0), KVCacheSpecKind: Some("full_attention")}
		if e > 0 {
			ev.ParentBlockHash = Some(HashUint64(h))
		}
		for range 16 {
			h = h*6364136223846793005 + 1442695040888963407
			ev.BlockHashes = append(ev.BlockHashes, HashUint64(h))
		}
		for i := range 256 {
			ev.TokenIDs = append(ev.TokenIDs, int32((uint64(i)*2654435761+h)%151936))
		}
		b.Events = append(b.Events, ev)
	}
	return b
}

// batchAppender is an encoder under benchmark: Encoder, or the vmihailenco-based
// oracle.
type batchAppender interface {
	Append(dst []byte, b *Batch) ([]byte, error)
}

func benchEncode(b *testing.B, events int, enc batchAppender) {
	batch := storedBatch(events)
	buf, err := enc.Append(nil, batch)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = enc.Append(buf[:0], batch)
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}

func benchDecode(b *testing.B, events int) {
	payload, err := EncodeBatch(storedBatch(events))
	if err != nil {
		b.Fatal(err)
	}
	var dec Decoder
	var batch Batch
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(payload, &batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}

// The same through the vmihailenco-based oracle encoder, for comparison.
func BenchmarkEncodeBatch64VMI(b *testing.B) { benchEncode(b, 64, &vmiEncoder{}) }

// One BlockStored of 16 blocks × 16 tokens per batch.
func BenchmarkEncodeStored16x16(b *testing.B) { benchEncode(b, 1, Encoder{}) }
func BenchmarkDecodeStored16x16(b *testing.B) { benchDecode(b, 1) }

// A batch of 64 such events.
func BenchmarkEncodeBatch64(b *testing.B) { benchEncode(b, 64, Encoder{}) }
func BenchmarkDecodeBatch64(b *testing.B) { benchDecode(b, 64) }

// Baseline: what a plain client pays, vmihailenco's generic Unmarshal of the same
// 64-event batch into maps and slices.
func BenchmarkDecodeBatch64GenericVMI(b *testing.B) {
	payload, err := EncodeBatch(storedBatch(64))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := msgpack.Unmarshal(payload, &v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "events/s")
}

// Publish cost per batch (encode, buffer for replay, queue on the PUB socket; the
// socket's writer goroutine then writes it out), with no subscriber and with one
// subscriber connected in the same process (which competes for the CPU: decoding
// and delivering every batch). The socket's HWM bounds its queue.
func benchPublish(b *testing.B, events int, subscribed bool) {
	p, err := NewPublisher(PublisherConfig{Endpoint: "tcp://127.0.0.1:0", Mode: Bind,
		ReplayEndpoint: "tcp://127.0.0.1:0", Linger: -1, HWM: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	batch := storedBatch(events)
	if subscribed {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := NewSubscriber(ctx, SubscriberConfig{Handler: func(Notification) {}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		defer cancel()
		if err := s.Add(Endpoint{Engine: "e", Pub: p.Endpoint(), NoCatchUp: true}); err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if _, err := p.Publish(batch); err != nil {
				b.Fatal(err)
			}
			if st, _ := s.Status("e"); st.Stats.Applied > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Publish(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkPublishStored16x16(b *testing.B)           { benchPublish(b, 1, false) }
func BenchmarkPublishBatch64(b *testing.B)               { benchPublish(b, 64, false) }
func BenchmarkPublishStored16x16Subscribed(b *testing.B) { benchPublish(b, 1, true) }
func BenchmarkPublishBatch64Subscribed(b *testing.B)     { benchPublish(b, 64, true) }

// decodeStepBatch is what a decode step of 256 sequences with 16-token blocks
// emits on average: 256/16 = 16 sequences complete a block (one BlockStored each,
// with its parent) and, under memory pressure, 16 cached blocks are evicted (one
// BlockRemoved each, as vLLM sends them).
func decodeStepBatch() *Batch {
	b := &Batch{TS: 1757500000.25, DataParallelRank: Some[int64](0)}
	h := uint64(0x9e3779b97f4a7c15)
	for range 16 {
		parent := h
		h = h*6364136223846793005 + 1442695040888963407
		toks := make([]int32, 16)
		for i := range toks {
			toks[i] = int32((uint64(i)*2654435761 + h) % 151936)
		}
		b.Events = append(b.Events, Event{Type: BlockStored, BlockHashes: []BlockHash{HashUint64(h)},
			ParentBlockHash: Some(HashUint64(parent)), TokenIDs: toks, BlockSize: 16, Medium: Some(MediumGPU),
			ExtraKeys: Some([]any{nil}), GroupIdx: Some[int64](0), KVCacheSpecKind: Some("full_attention")})
	}
	for range 16 {
		h = h*6364136223846793005 + 1442695040888963407
		b.Events = append(b.Events, Event{Type: BlockRemoved, BlockHashes: []BlockHash{HashUint64(h)},
			Medium: Some(MediumGPU), GroupIdx: Some[int64](0)})
	}
	return b
}

// Publisher cost per decode step of 256 sequences (compare with paged's
// BenchmarkDecodeStep256 measured in the same run).
func BenchmarkPublishDecodeStep256(b *testing.B) {
	p, err := NewPublisher(PublisherConfig{Endpoint: "tcp://127.0.0.1:0", Mode: Bind,
		ReplayEndpoint: "tcp://127.0.0.1:0", Linger: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	batch := decodeStepBatch()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Publish(batch); err != nil {
			b.Fatal(err)
		}
	}
}
