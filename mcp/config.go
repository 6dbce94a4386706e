package mcp

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/ddls/mcpauth/internal/yamlconf"
	"io"
	"os"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxConfigSize bounds the configuration file.
const MaxConfigSize = 1 << 20

// Config is mcpd's configuration file (`mcpd --config FILE`): server settings, the policies of the built-in
// tools, and the upstreams of the gateway. CONFIG.md in this directory documents every key.
type Config struct {
	// Name is the file problems are reported against.
	Name string

	ServerName, Instructions            string
	ResourceName, ResourceDocumentation string
	AllowedOrigins, AllowedHosts        []string
	ScopesSupported                     []string
	SessionTimeout                      time.Duration
	// RequireDPoP makes the resource accept DPoP-bound tokens only (for rs.Options).
	RequireDPoP bool
	// Tools are policies of the server's own tools (e.g. whoami), by name.
	Tools map[string]Policy
	// Upstreams are the MCP servers the gateway fronts.
	Upstreams []Upstream
}

// ConfigProblem is one problem of a configuration file, formatted `file:line: path: problem`.
type ConfigProblem = yamlconf.Problem

// ConfigError lists every problem of a configuration file, in file order, one per line. Messages never
// contain secrets.
type ConfigError = yamlconf.Error

// LoadConfig reads and parses the configuration file at path; see ParseConfig.
func LoadConfig(path string) (*Config, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mcp: config: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("mcp: config %s: %w", path, err)
	}
	return ParseConfig(path, data, os.LookupEnv)
}

// ParseConfig decodes and validates a configuration file (YAML, or JSON). Decoding is strict: an unknown
// key, a wrong type, a duplicate key, an alias or a second document is a problem; every problem is
// reported, each with its line, in a *ConfigError. ${NAME} in env values, header values and client
// credentials is replaced by the variable lookup returns (os.LookupEnv in LoadConfig); an unset variable is
// a problem. lookupEnv nil means no variables.
func ParseConfig(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	c := &Config{Name: name, Tools: map[string]Policy{}}
	d := &cdecoder{file: name, env: lookupEnv}
	if len(data) > MaxConfigSize {
		d.problem(0, "", "file is larger than %d bytes", MaxConfigSize)
		return nil, d.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		d.yamlError(err)
		return nil, d.err()
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(err)
	default:
		d.problem(next.Line, "", "only one YAML document is allowed")
	}
	if len(doc.Content) > 0 {
		d.config(doc.Content[0], c)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Options returns server options with the file's settings (other fields zero).
func (c *Config) Options() *Options {
	return &Options{
		Name: c.ServerName, Instructions: c.Instructions,
		ResourceName: c.ResourceName, ResourceDocumentation: c.ResourceDocumentation,
		AllowedOrigins: c.AllowedOrigins, AllowedHosts: c.AllowedHosts, ScopesSupported: c.ScopesSupported,
		SessionTimeout: c.SessionTimeout,
	}
}

// Apply sets the tool policies and starts the upstreams of the file on s.
func (c *Config) Apply(s *Server) error {
	names := make([]string, 0, len(c.Tools))
	for n := range c.Tools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := s.SetToolPolicy(n, c.Tools[n]); err != nil {
			return err
		}
	}
	for _, u := range c.Upstreams {
		if err := s.AddUpstream(u); err != nil {
			return err
		}
	}
	return nil
}
