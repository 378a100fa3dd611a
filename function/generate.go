package function

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/day1kmod/day1kmod/pkg/mcproducer"
	"github.com/kptdev/krm-functions-sdk/go/fn"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsyaml "sigs.k8s.io/yaml"
)

// generated is one item the function emits.
type generated struct {
	obj  *fn.KubeObject
	kind string
	name string
	src  *source
}

// note is a warning or info result about a source.
type note struct {
	severity fn.Severity
	path     *field.Path
	value    any
	msg      string
}

// builtinPools exist on every cluster: the function never creates them.
var builtinPools = map[string]bool{"worker": true, "master": true}

var percentRE = regexp.MustCompile(`^(100|[1-9][0-9]?)%$`)

// validate returns every problem of s at once.
func (s *source) validate() field.ErrorList {
	errs := s.renamed(s.spec.Config.Validate(s.specPath, s.namePath))
	ps := s.spec.MachineConfigPoolSpec
	if ps == nil {
		return errs
	}
	psPath := s.specPath.Child("machineConfigPoolSpec")
	pool := s.spec.MachineConfigPool
	if pool == "" {
		pool = s.spec.Config.WithDefaults().MachineConfigPool
	}
	if builtinPools[pool] {
		errs = append(errs, field.Invalid(s.specPath.Child("machineConfigPool"), pool,
			fmt.Sprintf("machineConfigPoolSpec asks for a MachineConfigPool %q, which exists on every cluster: drop machineConfigPoolSpec or name a custom pool", pool)))
	}
	sel := ps.NodeSelector
	selPath := psPath.Child("nodeSelector")
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		errs = append(errs, field.Required(selPath, "a custom pool needs a node selector (an empty one would select every node), e.g. matchLabels: {node-role.kubernetes.io/<pool>: \"\"}"))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
	}
	if mu := ps.MaxUnavailable; mu != nil {
		muPath := psPath.Child("maxUnavailable")
		switch mu.Type {
		case intstr.Int:
			if mu.IntVal < 1 {
				errs = append(errs, field.Invalid(muPath, mu.IntVal, "must be at least 1"))
			}
		case intstr.String:
			if !percentRE.MatchString(mu.StrVal) {
				errs = append(errs, field.Invalid(muPath, mu.StrVal, "must be a number of nodes (1 or more) or a percentage from 1% to 100%"))
			}
		}
	}
	return errs
}

// generate returns the items for s, which must be valid, and its notes.
func (s *source) generate() ([]*generated, []note, error) {
	cfg := s.spec.Config.WithDefaults()
	notes := append([]note(nil), s.notes...)
	if img, err := mcproducer.ParseImage(cfg.KernelModuleImage); err == nil && !img.FollowsKernel {
		notes = append(notes, note{fn.Warning, s.at("kernelModuleImage"), cfg.KernelModuleImage,
			"the image has a fixed tag or digest: it will not follow kernel upgrades; leave the tag out (it defaults to the node's kernel version) or use ${KERNEL_FULL_VERSION} in it"})
	}
	mc, err := mcproducer.NewMachineConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	y, err := mcproducer.MarshalYAML(mc)
	if err != nil {
		return nil, nil, err
	}
	mcObj, err := s.finish(y)
	if err != nil {
		return nil, nil, err
	}
	out := []*generated{{obj: mcObj, kind: mcKind, name: mcObj.GetName(), src: s}}
	notes = append(notes, note{fn.Info, nil, nil,
		fmt.Sprintf("generated MachineConfig %s for pool %s (module %s)", mcObj.GetName(), cfg.MachineConfigPool, cfg.KernelModuleName)})

	if ps := s.spec.MachineConfigPoolSpec; ps != nil {
		y, err := poolYAML(cfg.MachineConfigPool, ps)
		if err != nil {
			return nil, nil, err
		}
		poolObj, err := s.finish(y)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, &generated{obj: poolObj, kind: mcpKind, name: poolObj.GetName(), src: s})
		notes = append(notes, note{fn.Info, nil, nil, fmt.Sprintf("generated MachineConfigPool %s", poolObj.GetName())})
	}
	return out, notes, nil
}

// finish parses a generated object and marks it as ours.
func (s *source) finish(y []byte) (*fn.KubeObject, error) {
	o, err := fn.ParseKubeObject(y)
	if err != nil {
		return nil, fmt.Errorf("parsing generated object: %w", err)
	}
	// kustomize drops local-config items from its output: never carry it.
	if _, err := o.RemoveNestedField("metadata", "annotations", localConfigAnnotation); err != nil {
		return nil, err
	}
	if err := o.SetAnnotation(SourceAnnotation, s.ref()); err != nil {
		return nil, err
	}
	return o, nil
}

// poolYAML renders a custom MachineConfigPool: it takes the worker
// MachineConfigs and the pool's own, on the nodes the selector picks.
func poolYAML(pool string, ps *PoolSpec) ([]byte, error) {
	mcp := mcfgv1.MachineConfigPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: mcAPIVersion, Kind: mcpKind},
		ObjectMeta: metav1.ObjectMeta{Name: pool},
		Spec: mcfgv1.MachineConfigPoolSpec{
			MachineConfigSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key:      mcproducer.RoleLabel,
				Operator: metav1.LabelSelectorOpIn,
				Values:   []string{"worker", pool},
			}}},
			NodeSelector:   ps.NodeSelector,
			MaxUnavailable: ps.MaxUnavailable,
			Paused:         ps.Paused,
		},
	}
	raw, err := json.Marshal(mcp)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	// Drop what the API server fills in and the empty noise of the Go types.
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if !ps.Paused {
			delete(spec, "paused")
		}
		// Status-like structs the Go type always emits.
		for _, k := range []string{"configuration", "osImageStream"} {
			if mv, ok := spec[k].(map[string]any); ok && isEmptyMap(mv) {
				delete(spec, k)
			}
		}
	}
	return sigsyaml.Marshal(m)
}

// isEmptyMap: a map whose values are all nil, empty strings or empty maps.
func isEmptyMap(m map[string]any) bool {
	for _, v := range m {
		switch v := v.(type) {
		case nil:
		case string:
			if v != "" {
				return false
			}
		case map[string]any:
			if !isEmptyMap(v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
