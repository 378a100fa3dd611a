package function

import (
	"errors"
	"fmt"
	"io"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/kptdev/krm-functions-sdk/go/fn"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

// ErrNoDay1KernelModule: the input holds no Day1KernelModule.
var ErrNoDay1KernelModule = fmt.Errorf("no %s %s in the input", APIVersion, Kind)

// ReadConfigs returns the Config of every Day1KernelModule (and KMM
// BootModuleConfig) in a YAML stream
// (a file of one or more documents, as kustomize and kpt read it), decoded
// and validated by the function's own rules, so that tools such as
// `day1kmod verify` check exactly what the function renders. Other kinds
// are skipped. Any problem is an error naming the object, the field path
// and the value; then no Config is returned. Without any Day1KernelModule
// the error is ErrNoDay1KernelModule.
func ReadConfigs(r io.Reader) ([]machineconfig.Config, error) {
	nodes, err := (&kio.ByteReader{Reader: r, OmitReaderAnnotations: true}).Read()
	if err != nil {
		return nil, fmt.Errorf("reading YAML: %w", err)
	}
	var errs []error
	var configs []machineconfig.Config
	seen := map[string]bool{}
	for _, n := range nodes {
		o := fn.MoveToKubeObject(n)
		s, ferrs, ok := decodeSource(o, true)
		if !ok {
			continue
		}
		if s != nil {
			ferrs = append(ferrs, s.validate()...)

			if seen[s.name] {
				ferrs = append(ferrs, field.Duplicate(s.namePath, s.name))
			}
			seen[s.name] = true
		}
		for _, fe := range ferrs {
			errs = append(errs, fmt.Errorf("%s: %w", describe(o), fe))
		}
		if s != nil && len(ferrs) == 0 {
			c := s.spec.Config
			c.Name = s.name
			configs = append(configs, c.WithDefaults())
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(configs) == 0 {
		return nil, ErrNoDay1KernelModule
	}
	return configs, nil
}
