// Package yamlconf holds what mcpauth's strict configuration readers (the authd bootstrap file, the mcpd
// config file) share: the `file:line: path: problem` report and the "did you mean" hint for unknown keys.
package yamlconf

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File    string
	Line    int    // 1-based; 0 when unknown
	Path    string // e.g. clients[1].redirect_uris[0]; empty for the whole file
	Message string
}

// String formats the problem as `file:line: path: message`, leaving out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error lists every problem found in a file, in file order. Messages never contain secrets.
type Error struct {
	Problems []Problem
}

// Error returns one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// SuggestKey names the closest of known when key looks like a typo of it, else lists them all; the result
// is meant to follow "unknown key".
func SuggestKey(key string, known []string) string {
	known = append([]string(nil), known...)
	sort.Strings(known)
	best, bestDist := "", 3
	if len(key) <= 64 {
		for _, name := range known {
			if dist := editDistance(strings.ToLower(key), name); dist < bestDist {
				best, bestDist = name, dist
			}
		}
	}
	if best != "" {
		return " (did you mean " + best + "?)"
	}
	return " (known keys: " + strings.Join(known, ", ") + ")"
}

func editDistance(a, b string) int {
	if len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
