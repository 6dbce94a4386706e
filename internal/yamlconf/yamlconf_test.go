package yamlconf

import "testing"

func TestProblemString(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f.yaml", Line: 3, Path: "a[0].b", Message: "bad"}, "f.yaml:3: a[0].b: bad"},
		{Problem{File: "f.yaml", Message: "empty"}, "f.yaml: empty"},
		{Problem{Line: 7, Path: "x", Message: "m"}, "line 7: x: m"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	e := &Error{Problems: []Problem{{File: "f", Line: 1, Message: "a"}, {File: "f", Line: 2, Message: "b"}}}
	if e.Error() != "f:1: a\nf:2: b" {
		t.Errorf("%q", e.Error())
	}
}

func TestSuggestKey(t *testing.T) {
	known := []string{"scopes", "resources", "name"}
	if got := SuggestKey("scope", known); got != " (did you mean scopes?)" {
		t.Errorf("%q", got)
	}
	if got := SuggestKey("Resource", known); got != " (did you mean resources?)" {
		t.Errorf("%q", got)
	}
	if got := SuggestKey("zzzzzzzz", known); got != " (known keys: name, resources, scopes)" {
		t.Errorf("%q", got)
	}
}
