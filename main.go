// Command day1kmod is a KRM function (kustomize generator, kpt function) that
// turns a Day1KernelModule into the OpenShift MachineConfig loading an
// out-of-tree kernel module at Day 1. See `day1kmod --help`.
// `day1kmod verify` checks a kernel module image before the rollout.
package main

import (
	"os"

	"github.com/day1kmod/day1kmod/function"
	"github.com/day1kmod/day1kmod/verifycmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "verify" {
		os.Exit(verifycmd.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(function.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
