// Package webtest helps tests drive authd's HTML pages (login, consent) without a browser.
package webtest

import (
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// FormFields returns the action of the page's form and the values it would submit as the page stands:
// every named input (hidden ones included) with its value, and ticked checkboxes and radio buttons only.
// Buttons are left out: the caller adds the one it "clicks" (e.g. decision=allow).
func FormFields(page string) (action string, fields url.Values, err error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return "", nil, err
	}
	fields = url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			_, checked := attr["checked"]
			switch {
			case n.Data == "form":
				action = attr["action"]
			case n.Data == "input" && attr["name"] != "":
				switch attr["type"] {
				case "checkbox", "radio":
					if checked {
						fields.Add(attr["name"], attr["value"])
					}
				default:
					fields.Add(attr["name"], attr["value"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return action, fields, nil
}
