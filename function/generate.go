package function

import (
	"fmt"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/kptdev/krm-functions-sdk/go/fn"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/day1kmod/day1kmod/pkg/lazyregexp"
	"github.com/day1kmod/day1kmod/pkg/ynode"
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

var percentRE = lazyregexp.New(`^(100|[1-9][0-9]?)%$`)

// validate returns every problem of s at once.
func (s *source) validate() field.ErrorList {
	mc, errs := machineconfig.NewMachineConfigNodeAt(s.spec.Config, s.specPath, s.namePath)
	errs = s.renamed(errs)
	s.mc = mc
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
		errs = append(errs, validateLabelSelector(sel, selPath)...)
	}
	if mu := ps.MaxUnavailable; mu != nil {
		muPath := psPath.Child("maxUnavailable")
		switch mu.Type {
		case intstr.Int:
			if mu.IntVal < 1 {
				errs = append(errs, field.Invalid(muPath, mu.IntVal, "must be at least 1"))
			}
		case intstr.String:
			if !percentRE().MatchString(mu.StrVal) {
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
	if img, err := machineconfig.ParseImage(cfg.KernelModuleImage); err == nil && !img.FollowsKernel {
		notes = append(notes, note{fn.Warning, s.at("kernelModuleImage"), cfg.KernelModuleImage,
			"the image has a fixed tag or digest: it will not follow kernel upgrades; leave the tag out (it defaults to the node's kernel version) or use ${KERNEL_FULL_VERSION} in it"})
	}
	if s.mc == nil {
		return nil, nil, fmt.Errorf("%s %s was not validated (a day1kmod bug)", s.kindName(), s.name)
	}
	mcObj := fn.MoveToKubeObject(s.mc)
	if err := s.mark(mcObj); err != nil {
		return nil, nil, err
	}
	out := []*generated{{obj: mcObj, kind: mcKind, name: mcObj.GetName(), src: s}}
	notes = append(notes, note{fn.Info, nil, nil,
		fmt.Sprintf("generated MachineConfig %s for pool %s (module %s)", mcObj.GetName(), cfg.MachineConfigPool, cfg.KernelModuleName)})

	if ps := s.spec.MachineConfigPoolSpec; ps != nil {
		n, err := poolNode(cfg.MachineConfigPool, ps)
		if err != nil {
			return nil, nil, err
		}
		poolObj := fn.MoveToKubeObject(n)
		if err := s.mark(poolObj); err != nil {
			return nil, nil, err
		}
		out = append(out, &generated{obj: poolObj, kind: mcpKind, name: poolObj.GetName(), src: s})
		notes = append(notes, note{fn.Info, nil, nil, fmt.Sprintf("generated MachineConfigPool %s", poolObj.GetName())})
	}
	return out, notes, nil
}

// mark makes o one of ours: the source annotation, and never local-config
// (kustomize drops local-config items from its output).
func (s *source) mark(o *fn.KubeObject) error {
	if _, err := o.RemoveNestedField("metadata", "annotations", localConfigAnnotation); err != nil {
		return err
	}
	return o.SetAnnotation(SourceAnnotation, s.ref())
}

// poolNode is a custom MachineConfigPool: it takes the worker MachineConfigs
// and the pool's own, on the nodes the selector picks. Keys sorted, no
// empty fields, as the MachineConfig is written.
func poolNode(pool string, ps *PoolSpec) (*yaml.RNode, error) {
	str, mapping := ynode.String, ynode.Mapping
	mcSelector, err := ynode.Encode(LabelSelector{MatchExpressions: []LabelSelectorRequirement{{
		Key:      machineconfig.RoleLabel,
		Operator: LabelSelectorOpIn,
		Values:   []string{"worker", pool},
	}}})
	if err != nil {
		return nil, err
	}
	spec := mapping(str("machineConfigSelector"), mcSelector)
	if mu := ps.MaxUnavailable; mu != nil {
		v := str(mu.StrVal)
		if mu.Type == intstr.Int {
			v = ynode.Int(int64(mu.IntVal))
		}
		spec.Content = append(spec.Content, str("maxUnavailable"), v)
	}
	if ps.NodeSelector != nil {
		sel, err := ynode.Encode(ps.NodeSelector)
		if err != nil {
			return nil, err
		}
		if sel != nil {
			spec.Content = append(spec.Content, str("nodeSelector"), sel)
		}
	}
	if ps.Paused {
		spec.Content = append(spec.Content, str("paused"), &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: "true"})
	}
	return yaml.NewRNode(mapping(
		str("apiVersion"), str(mcAPIVersion),
		str("kind"), str(mcpKind),
		str("metadata"), mapping(str("name"), str(pool)),
		str("spec"), spec,
	)), nil
}
