// Command day1kmod is a KRM function (kustomize generator, kpt function) that
// turns a Day1KernelModule into the OpenShift MachineConfig loading an
// out-of-tree kernel module at Day 1. See `day1kmod --help`.
package main

import (
	"os"

	"github.com/day1kmod/day1kmod/function"
)

func main() {
	os.Exit(function.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
