package mcproducer

import "github.com/day1kmod/day1kmod/pkg/nodescripts"

// layout names what is installed for N; pkg/nodescripts derives every name,
// so the scripts and the units agree. Every name is per N: several Day 1
// kernel modules on one pool never share a file or a unit.
type layout struct{ name string }

func (l layout) loadUnit() string { return nodescripts.LoadUnit(l.name) }
func (l layout) pullUnit() string { return nodescripts.PullUnit(l.name) }
