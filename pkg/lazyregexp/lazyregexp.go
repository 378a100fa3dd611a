// Package lazyregexp compiles a regular expression on its first use rather
// than at package initialisation: every run of the function initialises
// every package, and most runs need few of the patterns.
package lazyregexp

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr once, on its first call, and
// returns it; it panics then if expr does not compile (like
// regexp.MustCompile, and a test that uses the pattern catches it).
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
