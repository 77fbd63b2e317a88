package kvevents

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/vmihailenco/msgpack/v5"
)

// zmqExample is the vectors' example PUB message.
type zmqExample struct {
	PubSocket struct {
		Example struct {
			Topic     string   `json:"topic"`
			FramesHex []string `json:"frames_hex"`
		} `json:"example"`
	} `json:"pub_socket"`
}

func loadZMQExample(t *testing.T, vf *vectorFile) (topic string, frames [][]byte) {
	raw, err := json.Marshal(vf.ZMQ)
	if err != nil {
		t.Fatal(err)
	}
	var z zmqExample
	if err := json.Unmarshal(raw, &z); err != nil {
		t.Fatal(err)
	}
	for _, h := range z.PubSocket.Example.FramesHex {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
	if len(frames) != 3 {
		t.Fatalf("example has %d frames", len(frames))
	}
	return z.PubSocket.Example.Topic, frames
}

// A plain ZeroMQ client — raw zmq4 SUB and DEALER sockets and a generic msgpack
// decoder, nothing of this package — reads our publisher: the PUB frames are the
// vectors' example byte for byte, the payload decodes into plain maps, and the
// replay socket streams buffered batches and vLLM's end marker.
func TestInteropPlainClient(t *testing.T) {
	vf := loadVectors(t)
	topic, example := loadZMQExample(t, vf)
	golden, err := DecodeBatch(example[2])
	if err != nil {
		t.Fatal(err)
	}
	p := testPublisher(t, PublisherConfig{Topic: topic})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := zmq4.NewSub(ctx)
	defer sub.Close()
	if err := sub.SetOption(zmq4.OptionSubscribe, "kv"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Dial(p.Endpoint()); err != nil {
		t.Fatal(err)
	}
	// Publish until the subscription is in place (ZeroMQ's slow joiner), then
	// publish the example's batch as sequence number 5.
	got := make(chan zmq4.Msg, 100)
	go func() {
		for {
			m, err := sub.Recv()
			if err != nil {
				close(got)
				return
			}
			got <- m
		}
	}()
	var first zmq4.Msg
	for seq := uint64(0); first.Frames == nil; seq++ {
		if seq >= 5 {
			t.Fatal("no message reached the plain subscriber in 5 tries")
		}
		if _, err := p.Publish(markBatch(0, seq)); err != nil {
			t.Fatal(err)
		}
		select {
		case first = <-got:
		case <-time.After(200 * time.Millisecond):
		}
	}
	for p.Stats().Published < 5 {
		if _, err := p.Publish(markBatch(0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if seq, err := p.Publish(golden); err != nil || seq != 5 {
		t.Fatalf("seq %d, %v", seq, err)
	}
	var m zmq4.Msg
	for deadline := time.After(waitLimit); ; {
		select {
		case m = <-got:
		case <-deadline:
			t.Fatal("seq 5 never arrived")
		}
		if len(m.Frames) == 3 && bytes.Equal(m.Frames[1], example[1]) {
			break
		}
	}
	for i := range example {
		if !bytes.Equal(m.Frames[i], example[i]) {
			t.Fatalf("frame %d\n got %x\nwant %x", i, m.Frames[i], example[i])
		}
	}
	var generic any
	if err := msgpack.Unmarshal(m.Frames[2], &generic); err != nil {
		t.Fatal(err)
	}
	batch := generic.([]any)
	events := batch[1].([]any)
	ev := events[0].(map[string]any)
	if batch[0].(float64) != golden.TS || ev["type"] != "BlockStored" || ev["medium"] != "GPU" ||
		len(ev["token_ids"].([]any)) != len(golden.Events[0].TokenIDs) {
		t.Fatalf("generic decoding: %#v", generic)
	}

	// Replay through a raw DEALER: [empty, seq] out; [empty, topic, seq, payload]
	// per batch and [empty, empty, END, empty] back.
	d := zmq4.NewDealer(ctx)
	defer d.Close()
	if err := d.Dial(p.ReplayEndpoint()); err != nil {
		t.Fatal(err)
	}
	if err := d.Send(zmq4.NewMsgFrom(nil, AppendSeq(nil, 4))); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for {
		r, err := d.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Frames[0]) != 0 {
			t.Fatalf("reply without the empty delimiter: %q", r.Frames)
		}
		if len(r.Frames) == 4 && len(r.Frames[1]) == 0 && bytes.Equal(r.Frames[2], bytes.Repeat([]byte{0xff}, 8)) && len(r.Frames[3]) == 0 {
			break // vLLM's end marker
		}
		if len(r.Frames) != 4 || string(r.Frames[1]) != topic {
			t.Fatalf("reply frames %q", r.Frames)
		}
		seq, err := ParseSeq(r.Frames[2])
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		if seq == 5 && !bytes.Equal(r.Frames[3], example[2]) {
			t.Fatal("replayed payload differs from the published one")
		}
	}
	if !reflect.DeepEqual(seqs, []uint64{4, 5}) {
		t.Fatalf("replayed %v", seqs)
	}
	// vLLM ignores a request that is not [identity, empty, seq]: so do we.
	if err := d.Send(zmq4.NewMsgFrom(AppendSeq(nil, 0))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for p.Stats().BadRequests == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := p.Stats(); st.BadRequests != 1 || st.ReplayRequests != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Our subscriber against a publisher written with raw sockets the way vLLM's is,
// replaying in the framing vLLM used before #45177 ([seq, payload], no topic), and
// sending every golden payload (both layouts): each arrives in order and decodes
// to the vector's values.
func TestInteropRawVLLMPublisher(t *testing.T) {
	vf := loadVectors(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := zmq4.NewPub(ctx)
	defer pub.Close()
	if err := pub.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	router := zmq4.NewRouter(ctx)
	defer router.Close()
	if err := router.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var buffer [][]byte // seq → payload
	go func() {
		for {
			req, err := router.Recv()
			if err != nil {
				return
			}
			if len(req.Frames) != 3 {
				continue
			}
			start := parseStartSeq(req.Frames[2])
			mu.Lock()
			items := append([][]byte(nil), buffer...)
			mu.Unlock()
			for seq, payload := range items {
				if uint64(seq) >= start {
					_ = router.Send(zmq4.NewMsgFrom(req.Frames[0], nil, AppendSeq(nil, uint64(seq)), payload))
				}
			}
			_ = router.Send(zmq4.NewMsgFrom(req.Frames[0], nil, AppendSeq(nil, EndSeq), nil))
		}
	}()
	publish := func(payload []byte, skip bool) {
		mu.Lock()
		seq := uint64(len(buffer))
		buffer = append(buffer, payload)
		mu.Unlock()
		if !skip {
			_ = pub.Send(zmq4.NewMsgFrom([]byte("kv@pod-a@model"), AppendSeq(nil, seq), payload))
		}
	}

	type got struct {
		seq   uint64
		canon any
	}
	var gmu sync.Mutex
	var received []got
	var notes []Notification
	s, err := NewSubscriber(ctx, SubscriberConfig{DialRetry: 20 * time.Millisecond, Handler: func(n Notification) {
		gmu.Lock()
		defer gmu.Unlock()
		if n.Kind == Applied {
			received = append(received, got{n.Seq, canonBatch(n.Batch)})
		} else {
			notes = append(notes, n)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Catch-up replays seq 0 (published before the subscriber connected).
	publish(mustHex(t, vf.Cases[0].MsgpackHex), true)
	if err := s.Add(Endpoint{Engine: "pod-a", Pub: "tcp://" + pub.Addr().String(),
		Replay: "tcp://" + router.Addr().String(), Topic: "kv@pod-a"}); err != nil {
		t.Fatal(err)
	}
	for i, c := range vf.Cases[1:] {
		publish(mustHex(t, c.MsgpackHex), i == 3) // one more dropped on the wire
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(waitLimit)
	for {
		gmu.Lock()
		n := len(received)
		gmu.Unlock()
		if n >= len(vf.Cases) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d; notes %v", n, len(vf.Cases), notes)
		}
		// Nudge: a message lost to ZeroMQ's slow joiner (published before the
		// subscription reached the publisher) shows up as a gap at the next.
		time.Sleep(50 * time.Millisecond)
		publish(mustHex(t, vf.Cases[len(vf.Cases)-1].MsgpackHex), false)
	}
	gmu.Lock()
	defer gmu.Unlock()
	for i, r := range received[:len(vf.Cases)] {
		if r.seq != uint64(i) {
			t.Fatalf("received seq %d at %d", r.seq, i)
		}
		if want := decodeJSON(t, vf.Cases[i].Decoded); !reflect.DeepEqual(r.canon, want) {
			t.Fatalf("case %s decoded differently", vf.Cases[i].Name)
		}
	}
	for _, n := range notes {
		if n.Kind == GapLost || n.Kind == Restarted {
			t.Fatalf("unexpected %v", n)
		}
	}
}
