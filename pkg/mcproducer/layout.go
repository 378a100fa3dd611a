package mcproducer

// layout derives the unit names from N; pkg/nodescripts derives the file
// paths. Every name is per N, so several Day 1 kernel modules on one pool
// never share a file or a unit.
type layout struct{ name string }

func (l layout) loadUnit() string { return "day1kmod-load-" + l.name + ".service" }
func (l layout) pullUnit() string { return "day1kmod-pull-" + l.name + ".service" }
