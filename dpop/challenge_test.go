// https://www.rfc-editor.org/rfc/rfc9449

package dpop

import (
	"reflect"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	type C = Challenge
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		in   string
		want []C
	}{
		{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
			[]C{{Scheme: "DPoP", Params: p("error", "use_dpop_nonce", "error_description", "Resource server requires nonce in DPoP proof")}}},
		{`Bearer realm="mcp", error="invalid_token", DPoP algs="ES256 EdDSA", error="use_dpop_nonce"`,
			[]C{{Scheme: "Bearer", Params: p("realm", "mcp", "error", "invalid_token")},
				{Scheme: "DPoP", Params: p("algs", "ES256 EdDSA", "error", "use_dpop_nonce")}}},
		// RFC 9110 §11.6.1's example.
		{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
			[]C{{Scheme: "Newauth", Params: p("realm", "apps", "type", "1", "title", `Login to "apps"`)},
				{Scheme: "Basic", Params: p("realm", "simple")}}},
		{`Basic`, []C{{Scheme: "Basic"}}},
		{`Basic, Bearer`, []C{{Scheme: "Basic"}, {Scheme: "Bearer"}}},
		{`Negotiate abc+/=`, []C{{Scheme: "Negotiate", Token68: "abc+/="}}},
		{`Negotiate abc==, DPoP error=use_dpop_nonce`, []C{{Scheme: "Negotiate", Token68: "abc=="}, {Scheme: "DPoP", Params: p("error", "use_dpop_nonce")}}},
		{`DPoP ERROR = "use_dpop_nonce" , , Bearer`, []C{{Scheme: "DPoP", Params: p("error", "use_dpop_nonce")}, {Scheme: "Bearer"}}},
		{`DPoP error="a\\b\"c", x=""`, []C{{Scheme: "DPoP", Params: p("error", `a\b"c`, "x", "")}}},
		{``, nil},
		{` , `, nil},
	}
	for _, tc := range cases {
		got, err := ParseChallenges(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tc.in, got, tc.want)
		}
		for _, c := range got {
			again, err := ParseChallenges(c.String())
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], c) {
				t.Errorf("round trip of %q: %#v %v", c.String(), again, err)
			}
		}
	}
	for _, bad := range []string{
		`DPoP error="unterminated`,
		`DPoP error="bad\`,
		"DPoP error=\"ctl\x01\"",
		`DPoP a=b=c`,
		`DPoP error="a", error="b"`,
		`DPoP error="a" x="b"`,
		`="x"`,
		`DPoP ="x"`,
		`DPoP@ x=1`,
	} {
		if _, err := ParseChallenges(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
