package machineconfig

import "testing"

// Benchmarks (make bench runs them): the seed call, YAML text included, and
// the node the KRM function emits.

func BenchmarkProduceMachineConfig(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProduceMachineConfig("99-worker-ice", "worker", "quay.io/acme/ice-kmod", "ice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewMachineConfigNode(b *testing.B) {
	c := fullConfig()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMachineConfigNode(c); err != nil {
			b.Fatal(err)
		}
	}
}
