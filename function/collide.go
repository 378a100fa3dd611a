package function

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
)

// loadedModule is one kernel module a source loads, where it is named.
type loadedModule struct {
	name string // as written
	path *field.Path
}

// modules lists the kernel modules s loads on its nodes.
func (s *source) modules() []loadedModule {
	out := []loadedModule{{s.spec.KernelModuleName, s.specPath.Child("kernelModuleName")}}
	for i, m := range s.spec.AdditionalModules {
		out = append(out, loadedModule{m.Name, s.specPath.Child("additionalModules").Index(i).Child("name")})
	}
	return out
}

// poolRoles maps each pool the function knows about to the roles
// (machineconfiguration.openshift.io/role values) whose MachineConfigs its
// nodes get: worker and master their own, a pool generated here worker's
// and its own, a MachineConfigPool among the items what its selector says.
// A pool known from nothing but its name gets its own role only.
func (p *processor) poolRoles(sources []*source) map[string][]string {
	roles := map[string][]string{"worker": {"worker"}, "master": {"master"}}
	for _, it := range p.rl.Items {
		if it.GetAPIVersion() != mcAPIVersion || it.GetKind() != mcpKind || it.GetAnnotation(SourceAnnotation) != "" {
			continue
		}
		var mcp machineConfigPool
		if err := it.As(&mcp); err != nil || mcp.Spec.MachineConfigSelector == nil {
			continue
		}
		roles[mcp.Metadata.Name] = selectedRoles(mcp.Spec.MachineConfigSelector)
	}
	for _, s := range sources {
		pool := s.spec.MachineConfigPool
		switch {
		case s.spec.MachineConfigPoolSpec != nil:
			roles[pool] = []string{"worker", pool} // as poolYAML selects
		case roles[pool] == nil:
			roles[pool] = []string{pool}
		}
	}
	return roles
}

// machineConfigPool is what poolRoles reads of a MachineConfigPool.
type machineConfigPool struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		MachineConfigSelector *LabelSelector `json:"machineConfigSelector"`
	} `json:"spec"`
}

// selectedRoles: the role values a MachineConfig selector takes, when it
// names them (matchLabels, or an In expression on the role label).
func selectedRoles(sel *LabelSelector) []string {
	var out []string
	if r, ok := sel.MatchLabels[machineconfig.RoleLabel]; ok {
		out = append(out, r)
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == machineconfig.RoleLabel && e.Operator == LabelSelectorOpIn {
			out = append(out, e.Values...)
		}
	}
	return out
}

// checkModuleCollisions refuses two sources that load the same kernel
// module (the kernel reads '-' and '_' as one) on the same nodes: on a node
// the second would unload the first's module. Nodes are those of each pool
// the function knows, with the MachineConfigs of every role the pool takes.
func (p *processor) checkModuleCollisions(sources []*source) {
	roles := p.poolRoles(sources)
	pools := make([]string, 0, len(roles))
	for pool := range roles {
		pools = append(pools, pool)
	}
	sort.Strings(pools)
	reported := map[[2]*source]bool{}
	for _, pool := range pools {
		takes := map[string]bool{}
		for _, r := range roles[pool] {
			takes[r] = true
		}
		type firstLoad struct {
			s *source
			m loadedModule
		}
		first := map[string]firstLoad{}
		for _, s := range sources {
			if !takes[s.spec.MachineConfigPool] {
				continue
			}
			for _, m := range s.modules() {
				k := strings.ReplaceAll(m.name, "-", "_")
				f, ok := first[k]
				if !ok {
					first[k] = firstLoad{s, m}
					continue
				}
				o := f.s
				if o == s || reported[[2]*source{o, s}] {
					continue
				}
				reported[[2]*source{o, s}] = true
				where := "pool " + pool
				if o.spec.MachineConfigPool != s.spec.MachineConfigPool {
					where = fmt.Sprintf("pool %s, whose nodes take the MachineConfigs of %s and %s", pool, o.spec.MachineConfigPool, s.spec.MachineConfigPool)
				}
				p.add(s.obj, fn.Error, m.path, m.name,
					fmt.Sprintf("this collides with another module: %s loads kernel module %s on the nodes of %s too; on a node the second would unload the first's module: load it from one %s",
						describe(o.obj), f.m.name, where, Kind))
			}
		}
		// An in-tree module to remove that another source loads: its load
		// unit would unload the other's out-of-tree module.
		for _, s := range sources {
			if !takes[s.spec.MachineConfigPool] {
				continue
			}
			for i, m := range s.spec.InTreeModulesToRemove {
				f, ok := first[strings.ReplaceAll(m, "-", "_")]
				if !ok || f.s == s || reported[[2]*source{f.s, s}] {
					continue
				}
				reported[[2]*source{f.s, s}] = true
				p.add(s.obj, fn.Error, s.at("inTreeModulesToRemove").Index(i), m,
					fmt.Sprintf("this collides with another module: %s loads kernel module %s on the nodes of pool %s, and this module would unload it as an in-tree module: remove it from this list",
						describe(f.s.obj), f.m.name, pool))
			}
		}
	}
}
