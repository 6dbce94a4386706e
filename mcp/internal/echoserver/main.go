// Command echoserver is a small MCP server over stdio for the gateway tests: tools that echo, fail, crash the
// process, sleep and report their environment, a prompt and a resource.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

type textArgs struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

type textOut struct {
	Text string `json:"text"`
}

type sleepArgs struct {
	Millis int `json:"millis"`
}

type envOut struct {
	Names []string `json:"names"`
	Value string   `json:"value"`
}

type empty struct{}

func main() {
	s := sdk.NewServer(&sdk.Implementation{Name: "echoserver", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "Echoes its text."}, func(_ context.Context, _ *sdk.CallToolRequest, in textArgs) (*sdk.CallToolResult, textOut, error) {
		return nil, textOut{Text: in.Text}, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "admin_echo", Description: "Echoes, for administrators."}, func(_ context.Context, _ *sdk.CallToolRequest, in textArgs) (*sdk.CallToolResult, textOut, error) {
		return nil, textOut{Text: "admin: " + in.Text}, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "github_echo", Description: "Echoes, through the GitHub connection."}, func(_ context.Context, _ *sdk.CallToolRequest, in textArgs) (*sdk.CallToolResult, textOut, error) {
		return nil, textOut{Text: "github: " + in.Text}, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "secret", Description: "Must never be visible through the gateway."}, func(context.Context, *sdk.CallToolRequest, empty) (*sdk.CallToolResult, textOut, error) {
		return nil, textOut{Text: "the secret"}, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "fail", Description: "Fails as a tool."}, func(context.Context, *sdk.CallToolRequest, empty) (*sdk.CallToolResult, textOut, error) {
		return nil, textOut{}, fmt.Errorf("this tool always fails")
	})
	sdk.AddTool(s, &sdk.Tool{Name: "crash", Description: "Exits the process."}, func(context.Context, *sdk.CallToolRequest, empty) (*sdk.CallToolResult, textOut, error) {
		fmt.Fprintln(os.Stderr, "echoserver: crashing on request")
		os.Exit(3)
		return nil, textOut{}, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "sleep", Description: "Sleeps."}, func(ctx context.Context, _ *sdk.CallToolRequest, in sleepArgs) (*sdk.CallToolResult, textOut, error) {
		select {
		case <-time.After(time.Duration(in.Millis) * time.Millisecond):
		case <-ctx.Done():
			return nil, textOut{}, ctx.Err()
		}
		return nil, textOut{Text: "slept"}, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "env", Description: "Lists the environment variable names and the value of ECHO_VALUE."}, func(context.Context, *sdk.CallToolRequest, empty) (*sdk.CallToolResult, envOut, error) {
		var names []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, envOut{Names: names, Value: os.Getenv("ECHO_VALUE")}, nil
	})
	s.AddPrompt(&sdk.Prompt{Name: "greet", Description: "Greets someone.", Arguments: []*sdk.PromptArgument{{Name: "who", Required: true}}},
		func(_ context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
			return &sdk.GetPromptResult{Messages: []*sdk.PromptMessage{{Role: "user", Content: &sdk.TextContent{Text: "Hello, " + req.Params.Arguments["who"]}}}}, nil
		})
	s.AddResource(&sdk.Resource{Name: "readme", URI: "echo://readme", MIMEType: "text/plain"},
		func(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: "echo server"}}}, nil
		})
	if err := s.Run(context.Background(), &sdk.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}
