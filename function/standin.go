package function

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Every MachineConfig carries the node scripts as data: URLs, about 45 KB of
// base64: most of the output, and most of the time the YAML encoder takes,
// which looks at every byte of a scalar and writes it a byte at a time. Such
// a value reads the same in any YAML scalar style: it is written as a short
// stand-in and put back, as it is, in the stream the encoder writes. The
// tests hold the output to kyaml's own writer, byte for byte.

// minStandIn is the shortest value worth a stand-in.
const minStandIn = 1024

// standInable: n is a scalar that YAML writes as it is, with any tag, in
// every style of a block collection: a data: URL (which no YAML type but a
// string matches) of characters no style escapes or breaks a line at (no
// space, quote, '#', '%' or non-ASCII). takeOut leaves flow collections
// alone.
func standInable(n *yaml.Node) bool {
	v := n.Value
	if n.Kind != yaml.ScalarNode || len(v) < minStandIn || !strings.HasPrefix(v, "data:") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !standInChars[v[i]] {
			return false
		}
	}
	return true
}

// standInChars are the bytes of base64 and of a data: URL's header.
var standInChars = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=:;,._-" {
		t[c] = true
	}
	return t
}()

// standIns are the values taken out of the nodes, each written as
// token + its index in 8 digits.
type standIns struct {
	token  string // "day1kmod-stand-in-" + a random nonce + "-"
	values []string
}

const standInDigits = 8

// takeOut replaces every stand-in-able value in the nodes by its stand-in.
func takeOut(nodes []*yaml.RNode) *standIns {
	// The nonce keeps any text of the input from reading as a stand-in.
	s := &standIns{token: fmt.Sprintf("day1kmod-stand-in-%016x%016x-", rand.Uint64(), rand.Uint64())}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if standInable(n) {
			s.values = append(s.values, n.Value)
			n.Value = fmt.Sprintf("%s%0*d", s.token, standInDigits, len(s.values)-1)
			return
		}
		if n.Style&yaml.FlowStyle != 0 {
			return // in a flow collection, a ',' makes the encoder quote the value
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue // a key
			}
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n.YNode())
	}
	return s
}

// putBack writes to w what is written to it, each stand-in replaced by its
// value. A stand-in may come split across writes: the tail that could
// begin one waits for the next write or for Flush.
type putBack struct {
	w       io.Writer
	s       *standIns
	pending []byte
}

func (p *putBack) Write(b []byte) (int, error) {
	p.pending = append(p.pending, b...)
	data := p.pending
	tok := []byte(p.s.token)
	for {
		i := bytes.Index(data, tok)
		if i < 0 || len(data) < i+len(tok)+standInDigits {
			break
		}
		idx, err := strconv.Atoi(string(data[i+len(tok) : i+len(tok)+standInDigits]))
		if err != nil || idx >= len(p.s.values) {
			return 0, fmt.Errorf("a broken stand-in in the output (a day1kmod bug)")
		}
		if _, err := p.w.Write(data[:i]); err != nil {
			return 0, err
		}
		if _, err := io.WriteString(p.w, p.s.values[idx]); err != nil {
			return 0, err
		}
		data = data[i+len(tok)+standInDigits:]
	}
	// Keep what could be the start of a stand-in.
	keep := min(len(data), len(tok)+standInDigits-1)
	if i := bytes.Index(data, tok); i >= 0 {
		keep = len(data) - i
	}
	if _, err := p.w.Write(data[:len(data)-keep]); err != nil {
		return 0, err
	}
	p.pending = append(p.pending[:0], data[len(data)-keep:]...)
	return len(b), nil
}

// Flush writes what is left.
func (p *putBack) Flush() error {
	_, err := p.w.Write(p.pending)
	p.pending = p.pending[:0]
	return err
}
