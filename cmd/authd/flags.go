package main

import (
	"errors"
	"flag"
	"io"
	"strings"
)

// errUsage means the flag package already printed the problem.
var errUsage = errors.New("usage")

func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fs.Output().Write([]byte("unexpected arguments: " + strings.Join(fs.Args(), " ") + "\n"))
		return errUsage
	}
	return nil
}

// strs is a repeatable string flag; comma-separated values are split too.
type strs []string

func (s *strs) String() string { return strings.Join(*s, ",") }
func (s *strs) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}
