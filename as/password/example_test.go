package password_test

import (
	"fmt"

	"github.com/ddls/mcpauth/as/password"
)

func Example() {
	// Hash uses DefaultParams; tests and this example use small parameters to stay fast.
	p := password.Params{Memory: 64, Iterations: 1, Parallelism: 1}
	hash, err := password.HashWithParams("correct horse battery staple", p)
	if err != nil {
		panic(err)
	}

	ok, err := password.Verify("correct horse battery staple", hash)
	fmt.Println("right password:", ok, err)
	ok, err = password.Verify("Tr0ub4dor&3", hash)
	fmt.Println("wrong password:", ok, err)
	// After a successful login, upgrade hashes made with old parameters.
	fmt.Println("needs rehash:", password.NeedsRehash(hash))

	// Unknown user: spend the same time as a real check, then fail.
	password.DummyVerify("whatever was typed")
	// Output:
	// right password: true <nil>
	// wrong password: false <nil>
	// needs rehash: true
}
