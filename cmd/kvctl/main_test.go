package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// kvctl runs the command in-process with stdin and returns its exit status, stdout
// and stderr.
func kvctl(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	code, _, stderr := kvctl("")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "Commands:")

	code, _, stderr = kvctl("", "nope")
	require.Equal(t, exitUsage, code)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one-line error: %q", stderr)

	for _, h := range []string{"-h", "--help", "help"} {
		code, stdout, _ := kvctl("", h)
		require.Equal(t, exitOK, code)
		require.Contains(t, stdout, "hash")
	}
	code, stdout, _ := kvctl("", "help", "hash")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "Usage: kvctl hash")
}

// Every registered command answers -h on stdout with exit 0, and a bad flag with one
// line on stderr and exit 2.
func TestEveryCommandHasHelp(t *testing.T) {
	require.NotEmpty(t, commands)
	for name := range commands {
		code, stdout, stderr := kvctl("", name, "-h")
		require.Equal(t, exitOK, code, name)
		require.Contains(t, stdout, "Usage: kvctl "+name)
		require.Empty(t, stderr)

		code, stdout, stderr = kvctl("", name, "-no-such-flag")
		require.Equal(t, exitUsage, code, name)
		require.Empty(t, stdout)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%s: one-line error: %q", name, stderr)
	}
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	require.Panics(t, func() {
		register(command{name: "hash", summary: "again", run: func([]string, io.Reader, io.Writer, io.Writer) int { return 0 }})
	})
	require.Panics(t, func() { register(command{name: "x"}) })
}

func TestWaitFor(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	require.False(t, waitFor(done, time.Hour), "a done context ends the wait")
	require.False(t, waitFor(done, 0))
	require.Less(t, time.Since(start), time.Minute)
	require.True(t, waitFor(context.Background(), 0))
	require.True(t, waitFor(context.Background(), time.Millisecond))
}
