package mcproducer

import "testing"

// The typed call (make bench runs it); package machineconfig benchmarks the
// node and the YAML text it is made from.
func BenchmarkNewMachineConfig(b *testing.B) {
	c := typedCases()["full-"+IgnitionV3_4]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMachineConfig(c); err != nil {
			b.Fatal(err)
		}
	}
}
