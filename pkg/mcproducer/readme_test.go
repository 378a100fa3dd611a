package mcproducer

import (
	"os"
	"strings"
	"testing"
)

// The README's example of Validate's errors is what it returns.
func TestREADMEValidateExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "<!-- readme-test: validate -->\n```\n")
	if !ok {
		t.Fatal("README has no block marked readme-test: validate")
	}
	block, _, _ = strings.Cut(block, "```")
	var got strings.Builder
	for _, e := range (Config{MachineConfigPool: "worker", KernelModuleImage: "acme/ice", KernelModuleName: "ice;rm"}).Validate(nil, nil) {
		got.WriteString(e.Error() + "\n")
	}
	if got.String() != block {
		t.Errorf("the README says\n%s\nValidate returns\n%s", block, got.String())
	}
}
