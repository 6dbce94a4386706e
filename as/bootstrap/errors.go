package bootstrap

import (
	"fmt"
	"github.com/ddls/mcpauth/internal/yamlconf"
	"sort"
	"strings"
)

// Problem is one thing wrong with a bootstrap file; String formats it as `file:line: path: message`.
type Problem = yamlconf.Problem

// Error lists every problem found in a bootstrap file, in file order, one per line. Messages never contain
// passwords, secrets or their hashes.
type Error = yamlconf.Error

// problems collects Problems against a file, using its recorded lines.
type problems struct {
	file  string
	lines map[string]int
	// bad marks paths that already failed to decode; validation stays silent about them and their children
	// rather than reporting the same mistake twice ("must be a string", then "is required").
	bad  map[string]bool
	list []Problem
}

// add records a problem at path; the line is the nearest recorded one at path or above it.
func (ps *problems) add(path, format string, args ...any) {
	for p := path; ; {
		if ps.bad[p] {
			return
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	ps.list = append(ps.list, Problem{File: ps.file, Line: ps.lineOf(path), Path: path, Message: fmt.Sprintf(format, args...)})
}

// addLine records a problem at an explicit line.
func (ps *problems) addLine(line int, path, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) lineOf(path string) int {
	for {
		if l, ok := ps.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return ps.lines[""]
		}
		path = path[:i]
	}
}

// err returns nil or an *Error with the problems in line order (stable: same-line problems keep their order).
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := append([]Problem(nil), ps.list...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Line < list[j].Line })
	return &Error{Problems: list}
}
