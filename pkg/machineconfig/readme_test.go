package machineconfig

import (
	"strings"
	"testing"

	"github.com/day1kmod/day1kmod/internal/mddoc"
)

// The docs' example of Validate's errors is what it returns.
func TestREADMEValidateExample(t *testing.T) {
	block, file, err := mddoc.Block("../..", "validate")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, e := range (Config{MachineConfigPool: "worker", KernelModuleImage: "acme/ice", KernelModuleName: "ice;rm"}).Validate(nil, nil) {
		got.WriteString(e.Error() + "\n")
	}
	if got.String() != block {
		t.Errorf("%s says\n%s\nValidate returns\n%s", file, block, got.String())
	}
}
