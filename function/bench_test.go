package function

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchInput is a ResourceList of n Day1KernelModules among as many
// unrelated items (package mode), as kpt render passes them.
func benchInput(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: cm-%d
  data:
    key: value-%d
- apiVersion: day1kmod.dev/v1alpha1
  kind: Day1KernelModule
  metadata:
    name: mod%d
    annotations:
      config.kubernetes.io/local-config: "true"
  spec:
    machineConfigPool: worker
    kernelModuleImage: quay.io/acme/mod-kmod
    kernelModuleName: mod%d
    moduleParameters: ["debug=1"]
`, i, i, i, i)
	}
	return b.Bytes()
}

// BenchmarkExecute is the whole function in-process: read, generate, write.
func BenchmarkExecute(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		in := benchInput(n)
		b.Run(fmt.Sprintf("modules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				results, err := Execute(Processor, bytes.NewReader(in), io.Discard)
				if err != nil || results.ExitCode() != 0 {
					b.Fatalf("%v %v", err, results)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/MachineConfig")
		})
	}
}
