package main

import (
	"io"
	"log"
)

// verboseUsage is the help of the -v flag of the commands that open ZeroMQ sockets.
const verboseUsage = "print what ZeroMQ (zmq4) logs, e.g. a connection that is not ZeroMQ, on standard error (one line each)"

// zmqLogger returns the logger for the ZeroMQ sockets of command name: zmq4 writes
// to standard error by default, in its own format, which would break kvctl's rule
// that what it writes there is one line per error prefixed "kvctl NAME: ". Without
// -v its lines are discarded (the commands count what matters, e.g. the engine's
// summary counts handshake failures); with -v each becomes one line
// "kvctl NAME: zmq4: ..." on stderr.
func zmqLogger(name string, verbose bool, stderr io.Writer) *log.Logger {
	if !verbose {
		return log.New(io.Discard, "", 0)
	}
	return log.New(stderr, "kvctl "+name+": zmq4: ", 0)
}
