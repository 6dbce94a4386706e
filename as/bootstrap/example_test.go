package bootstrap_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ddls/mcpauth/as/bootstrap"
	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/as/store/memory"
)

func ExampleParse() {
	_, err := bootstrap.Parse("bootstrap.yaml", []byte(`resources:
  - uri: http://localhost:8000/mcp
    scopes: [{name: mcp:tools, default: true}]
clients:
  - client_id: demo-cli
    public: true
    client_secret: not-for-a-public-client
    redirect_uris: [http://app.example.com/callback]
    resources: [http://localhost:8000/mcp]
`))
	var be *bootstrap.Error
	if errors.As(err, &be) {
		for _, p := range be.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// bootstrap.yaml:7: clients[0].client_secret: a public client has no secret; remove client_secret or set public: false
	// bootstrap.yaml:8: clients[0].redirect_uris[0]: redirect URI "http://app.example.com/callback" uses http on a non-loopback host; use https
}

func ExampleApply() {
	f, err := bootstrap.Load("../../examples/bootstrap.yaml")
	if err != nil {
		panic(err)
	}
	st := memory.New(store.Options{})
	// The zero ApplyOptions hashes passwords with password.DefaultParams; small ones keep the example fast.
	opts := bootstrap.ApplyOptions{PasswordParams: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	if err := bootstrap.Apply(context.Background(), st, f, opts); err != nil {
		panic(err)
	}
	c, _ := st.GetClientRecord(context.Background(), "svc-reporter")
	fmt.Println(c.TokenEndpointAuthMethod, c.GrantTypes, c.OrgID, c.Connections)
	// Output: client_secret_basic [client_credentials] org_acme [conn_github]
}
