// Command noop is the baseline of the benchmark: a KRM function built on
// kyaml's framework that passes the ResourceList through unchanged.
package main

import (
	"os"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
)

func main() {
	pass := framework.ResourceListProcessorFunc(func(*framework.ResourceList) error { return nil })
	if err := framework.Execute(pass, nil); err != nil {
		os.Exit(1)
	}
}
