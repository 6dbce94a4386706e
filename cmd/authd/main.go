// Command authd is the mcpauth authorization server.
//
//	authd serve      run the server (in-memory store without DATABASE_URL)
//	authd migrate    apply the PostgreSQL migrations
//	authd keys rotate
//	authd clients|users|orgs|connections|resources …   administration on PostgreSQL
//
// Run `authd help` for the flags of each command.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `authd: the mcpauth authorization server

usage:
  authd serve [flags]            run the server (see authd serve -h)
  authd migrate [flags]          apply PostgreSQL migrations
  authd keys rotate [flags]      add a signing key, published now, signing after --lead
  authd clients create|list|delete [flags]
  authd users create|list [flags]
  authd orgs create|list|delete [flags]
  authd connections create|list|delete [flags]
  authd resources create|list [flags]
  authd consents revoke [flags]  forget a user's remembered consent (they are asked again)

Administration commands work on PostgreSQL (--database-url or DATABASE_URL); the in-memory store is
configured with the bootstrap file (--bootstrap).
`

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout)
	case "keys":
		err = cmdKeys(ctx, args[1:], stdout)
	case "clients":
		err = cmdClients(ctx, args[1:], stdout)
	case "users":
		err = cmdUsers(ctx, args[1:], stdin, stdout)
	case "orgs":
		err = cmdOrgs(ctx, args[1:], stdout)
	case "connections":
		err = cmdConnections(ctx, args[1:], stdout)
	case "resources":
		err = cmdResources(ctx, args[1:], stdout)
	case "consents":
		err = cmdConsents(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "authd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintf(stderr, "authd %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
