package kvevents

import (
	"bytes"
	"log"
	"os"
	"sync/atomic"
)

// zmq4 v0.17.0 logs through a *log.Logger of each socket (zmq4.WithLogger), by
// default one writing to os.Stderr with the prefix "zmq4: ". It logs one kind of
// line from a socket: a connection a listening socket accepted that failed the
// ZMTP handshake ("could not open a ZMTP connection with ..."), e.g. a peer that is
// not ZeroMQ, or one speaking another security mechanism. A dialing socket returns
// the same failure from Dial instead of logging it.

// zmqPrefix is zmq4's own prefix for its default logger.
const zmqPrefix = "zmq4: "

// zmqLog is the io.Writer behind the *log.Logger given to zmq4: it counts the
// lines zmq4 logs and passes each to the user's logger (nil: zmq4's default).
type zmqLog struct {
	dst   *log.Logger
	lines atomic.Uint64
}

// newZMQLog returns the writer for cfgLogger (nil means zmq4's default: os.Stderr,
// prefix "zmq4: ", no flags — os.Stderr as it is now).
func newZMQLog(cfgLogger *log.Logger) *zmqLog {
	if cfgLogger == nil {
		cfgLogger = log.New(os.Stderr, zmqPrefix, 0)
	}
	return &zmqLog{dst: cfgLogger}
}

// logger returns the *log.Logger to pass to zmq4.WithLogger. It adds no prefix or
// flags of its own: the destination logger adds its own.
func (z *zmqLog) logger() *log.Logger { return log.New(z, "", 0) }

// Write implements io.Writer: one call per line zmq4 logs (log.Logger writes each
// Print in one call).
func (z *zmqLog) Write(p []byte) (int, error) {
	z.lines.Add(1)
	_ = z.dst.Output(2, string(bytes.TrimSuffix(p, []byte("\n"))))
	return len(p), nil
}
