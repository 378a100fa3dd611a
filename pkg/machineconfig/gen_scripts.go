//go:build ignore

// Writes scripts_gen.go (see internal/scriptsource): run by
// `go generate ./pkg/machineconfig` after a node script changed.
package main

import (
	"fmt"
	"os"

	"github.com/day1kmod/day1kmod/pkg/machineconfig/internal/scriptsource"
)

func main() {
	b, err := scriptsource.Render()
	if err == nil {
		err = os.WriteFile(scriptsource.File, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_scripts:", err)
		os.Exit(1)
	}
}
