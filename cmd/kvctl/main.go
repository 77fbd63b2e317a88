package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// command is one kvctl subcommand. Each lives in its own file and registers itself
// from that file's init function with register, so adding a subcommand never
// touches this file.
type command struct {
	// name is the word after kvctl.
	name string
	// summary is one line for kvctl's command list.
	summary string
	// run runs the subcommand with the arguments after its name and returns the exit
	// status: exitOK, exitFailure (bad input, or the work failed) or exitUsage (bad
	// command line). It must support -h (see newFlags and parseFlags).
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // bad input, or the work itself failed
	exitUsage   = 2 // bad command line
)

var commands = map[string]command{}

// register adds a subcommand; a duplicate or incomplete one is a programming error.
func register(c command) {
	if _, dup := commands[c.name]; dup || c.name == "" || c.summary == "" || c.run == nil {
		panic("kvctl: bad or duplicate command " + c.name)
	}
	commands[c.name] = c
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// run dispatches to the subcommand named by args[0].
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"-h"}, stdin, stdout, stderr)
			}
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kvctl: unknown command %q (kvctl -h lists them)\n", args[0])
		return exitUsage
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, "kvctl: tools for running fleets of vLLM-compatible KV caches.\n\nUsage: kvctl COMMAND [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nkvctl COMMAND -h describes a command. Exit status: 0 ok, 1 bad input or failure, 2 bad usage.\n")
}

// newFlags returns the flag set of subcommand name. synopsis is its usage line
// (without "kvctl"), description a paragraph printed under it by -h.
func newFlags(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("kvctl "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: kvctl %s\n\n%s\n", synopsis, strings.TrimSpace(description))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args. With -h it prints the usage to stdout and returns
// (exitOK, false); on a bad flag it prints one line to stderr and returns
// (exitUsage, false); otherwise (0, true).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK, false
	default:
		fmt.Fprintf(stderr, "%s: %v (-h for help)\n", fs.Name(), err)
		return exitUsage, false
	}
}

// failf prints "kvctl NAME: message" on one line to stderr and returns code.
func failf(stderr io.Writer, name string, code int, format string, a ...any) int {
	msg := strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " ")
	fmt.Fprintf(stderr, "kvctl %s: %s\n", name, msg)
	return code
}

// waitFor is time.Sleep that ends early when ctx is done: it reports false when ctx
// is done first (or already, for d ≤ 0). Commands that pace themselves use it
// (kvctl engine).
func waitFor(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
