package kvevents

import (
	"bytes"
	"errors"
	"testing"
)

func TestOffsetEndpoint(t *testing.T) {
	cases := []struct {
		ep   string
		rank int
		want string
		err  bool
	}{
		{"tcp://*:5557", 0, "tcp://*:5557", false},
		{"tcp://*:5557", 3, "tcp://*:5560", false},
		{"tcp://10.0.0.7:5558", 1, "tcp://10.0.0.7:5559", false},
		{"tcp://[::1]:5557", 2, "tcp://[::1]:5559", false},
		{"inproc://cache", 2, "inproc://cache_dp2", false},
		{"", 4, "", false},
		{"tcp://host", 1, "", true}, // "//host" is no port: vLLM raises too
		{"tcp://host:abc", 1, "", true},
		{"ipc:///tmp/kv", 1, "", true}, // vLLM raises ValueError
		{"ipc:///tmp/kv", 0, "ipc:///tmp/kv", false},
		{"tcp://*:65534", 1, "tcp://*:65535", false},
		{"tcp://*:65535", 1, "", true}, // no port 65536
		{"tcp://*:-3", 1, "", true},
		{"tcp://*:+5557", 1, "", true},
		{"tcp://*:5557", -1, "", true},
		{"inproc://cache", -2, "", true},
	}
	for _, c := range cases {
		got, err := OffsetEndpoint(c.ep, c.rank)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("OffsetEndpoint(%q, %d) = %q, %v; want %q (error %v)", c.ep, c.rank, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("error %v does not wrap ErrConfig", err)
		}
	}
}

func TestBindsEndpoint(t *testing.T) {
	for ep, want := range map[string]bool{
		"tcp://*:5557": true, "tcp://[::]:5557": true, "ipc:///tmp/x": true, "inproc://x": true,
		"tcp://10.0.0.7:5557": false, "tcp://127.0.0.1:0": false,
	} {
		if BindsEndpoint(ep) != want {
			t.Errorf("BindsEndpoint(%q) = %v", ep, !want)
		}
	}
}

func TestSeqFrames(t *testing.T) {
	if b := AppendSeq(nil, 5); !bytes.Equal(b, []byte{0, 0, 0, 0, 0, 0, 0, 5}) {
		t.Fatalf("%x", b)
	}
	if s, err := ParseSeq(bytes.Repeat([]byte{0xff}, 8)); err != nil || s != EndSeq {
		t.Fatal(s, err)
	}
	if _, err := ParseSeq([]byte{1, 2}); !errors.Is(err, ErrFrame) {
		t.Fatal(err)
	}
	for in, want := range map[string]uint64{
		"":                                 0,
		"\x05":                             5,
		"\x00\x00\x00\x00\x00\x00\x01\x00": 256,
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07": 7,
		"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x07": EndSeq, // beyond 64 bits
	} {
		if got := parseStartSeq([]byte(in)); got != want {
			t.Errorf("parseStartSeq(%x) = %d, want %d", in, got, want)
		}
	}
}

func TestReplayFrames(t *testing.T) {
	seq := AppendSeq(nil, 9)
	end := AppendSeq(nil, EndSeq)
	cases := []struct {
		frames [][]byte
		want   replayFrame
		err    bool
	}{
		{[][]byte{{}, []byte("t"), seq, []byte("p")}, replayFrame{seq: 9, payload: []byte("p")}, false},
		{[][]byte{{}, seq, []byte("p")}, replayFrame{seq: 9, payload: []byte("p")}, false}, // before #45177
		{[][]byte{{}, {}, end, {}}, replayFrame{seq: EndSeq, payload: []byte{}, end: true}, false},
		{[][]byte{{}, end, {}}, replayFrame{seq: EndSeq, payload: []byte{}, end: true}, false},
		{[][]byte{[]byte("x"), seq, []byte("p")}, replayFrame{}, true},
		{[][]byte{{}, []byte("t"), []byte{1}, []byte("p")}, replayFrame{}, true},
		{[][]byte{{}}, replayFrame{}, true},
	}
	for i, c := range cases {
		got, err := parseReplayFrames(c.frames)
		if (err != nil) != c.err || got.seq != c.want.seq || got.end != c.want.end || !bytes.Equal(got.payload, c.want.payload) {
			t.Errorf("case %d: %+v %v", i, got, err)
		}
	}
	if _, _, err := parseLiveFrames([][]byte{seq, []byte("p")}); !errors.Is(err, ErrFrame) {
		t.Fatal(err)
	}
}
