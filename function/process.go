package function

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Processor is the function as a generator (the SDK's Runner interface may
// not add items).
var Processor = fn.ResourceListProcessorFunc(Process)

// Process reads the Day1KernelModules of rl (its functionConfig and its
// items), appends or replaces the items they generate and removes the
// generated items whose source is gone. On any error it changes no item and
// returns false; rl.Results says why.
func Process(rl *fn.ResourceList) (bool, error) {
	p := &processor{rl: rl}
	p.run()
	rl.Results = append(rl.Results, p.results...)
	return p.results.ExitCode() == 0, nil
}

type processor struct {
	rl      *fn.ResourceList
	results fn.Results
	failed  bool
}

func (p *processor) run() {
	sources, packageMode := p.collect()
	if len(sources) == 0 && !p.failed && !p.hasOwnedItems() {
		p.results = append(p.results, &fn.Result{Severity: fn.Warning,
			Message: "no " + Kind + " found: give one as functionConfig (or a ConfigMap with its fields as keys) or put some among the resources; day1kmod --help tells more"})
		return
	}
	for _, s := range sources {
		for _, fe := range s.validate() {
			p.fieldResult(s.obj, fn.Error, fe)
		}
	}
	if p.failed {
		return
	}
	p.checkModuleCollisions(sources)
	if p.failed {
		return
	}
	var outputs []*generated
	type sourceNote struct {
		s *source
		note
	}
	var notes []sourceNote
	for _, s := range sources {
		gen, ns, err := s.generate()
		if err != nil {
			p.add(s.obj, fn.Error, nil, nil, "cannot generate the MachineConfig: "+err.Error())
			continue
		}
		outputs = append(outputs, gen...)
		for _, n := range ns {
			notes = append(notes, sourceNote{s, n})
		}
	}
	if !p.failed {
		p.checkConflicts(sources, outputs)
	}
	// Warnings always; "generated ..." only when something was.
	for _, n := range notes {
		if n.severity != fn.Info || !p.failed {
			p.add(n.s.obj, n.severity, n.path, n.value, n.msg)
		}
	}
	if p.failed {
		return
	}
	p.merge(sources, outputs, packageMode)
}

// decodeSource decodes o when it is of a kind the function reads as a
// module (ok); the source is nil when nothing could be decoded.
func decodeSource(o *fn.KubeObject, isItem bool) (s *source, errs field.ErrorList, ok bool) {
	switch {
	case isDay1KernelModule(o):
		s, errs = decodeDay1KernelModule(o, isItem)
	case isBootModuleConfig(o):
		s, errs = decodeBootModuleConfig(o, isItem)
	default:
		return nil, nil, false
	}
	return s, errs, true
}

func errorTexts(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// collect decodes every Day1KernelModule (and KMM BootModuleConfig): the functionConfig (or a ConfigMap
// functionConfig) and those among the items. packageMode is true when the
// sources come from the items (or there is no functionConfig): the function
// then owns every generated item and removes those whose source is gone.
func (p *processor) collect() (sources []*source, packageMode bool) {
	// The errors of each item, by kind/name: the functionConfig may be the
	// same object (kpt render and kustomize pass the config file among the
	// items too), and its errors are then reported once, on the item.
	itemErrs := map[string][]string{}
	for _, it := range p.rl.Items {
		s, errs, ok := decodeSource(it, true)
		if !ok {
			continue
		}
		packageMode = true
		key := it.GetKind() + "/" + it.GetName()
		itemErrs[key] = append(itemErrs[key], errorTexts(errs)...)
		for _, fe := range errs {
			p.fieldResult(it, fn.Error, fe)
		}
		if s != nil {
			if it.GetAnnotation(localConfigAnnotation) != "true" {
				p.add(it, fn.Warning, field.NewPath("metadata", "annotations"), nil,
					fmt.Sprintf("add the annotation %s: \"true\" so that kpt and kustomize never apply this %s to a cluster", localConfigAnnotation, it.GetKind()))
			}
			sources = append(sources, s)
		}
	}

	fc := p.rl.FunctionConfig
	switch {
	case fc == nil || fc.IsEmpty():
		packageMode = true
	case isDay1KernelModule(fc) || isBootModuleConfig(fc):
		s, errs, _ := decodeSource(fc, false)
		reported, sameItem := itemErrs[fc.GetKind()+"/"+fc.GetName()]
		if s == nil {
			if !sameItem || !slices.Equal(errorTexts(errs), reported) {
				for _, fe := range errs {
					p.fieldResult(fc, fn.Error, fe)
				}
			}
			break
		}
		var same *source
		for _, o := range sources {
			if o.name == s.name && o.kindName() == s.kindName() {
				same = o
			}
		}
		switch {
		case same == nil:
			for _, fe := range errs {
				p.fieldResult(fc, fn.Error, fe)
			}
			sources = append([]*source{s}, sources...)
		case !reflect.DeepEqual(same.spec, s.spec):
			p.add(fc, fn.Error, field.NewPath("metadata", "name"), s.name,
				fmt.Sprintf("the functionConfig and the %s %s among the resources (%s) have the same name but a different spec", s.kindName(), s.name, objPath(same.obj)))
		}
	case fc.GetKind() == "ConfigMap" && fc.GetAPIVersion() == "v1":
		s, errs := decodeConfigMap(fc)
		for _, fe := range errs {
			p.fieldResult(fc, fn.Error, fe)
		}
		if s != nil {
			sources = append([]*source{s}, sources...)
		}
	default:
		p.add(fc, fn.Error, field.NewPath("kind"), fc.GetKind(),
			fmt.Sprintf("unsupported functionConfig %s/%s: use %s %s, KMM's %s %s, or a ConfigMap with the fields of %s as keys",
				fc.GetAPIVersion(), fc.GetKind(), APIVersion, Kind, KMMAPIVersion, BootModuleConfigKind, Kind))
	}

	// N names node paths and units: two modules with one N would collide.
	seen := map[string]*source{}
	for _, s := range sources {
		if o, ok := seen[s.name]; ok {
			p.add(s.obj, fn.Error, s.namePath, s.name,
				fmt.Sprintf("another module has the same name (%s): node paths and unit names derive from it, so it must be unique", describe(o.obj)))
			continue
		}
		seen[s.name] = s
	}
	return sources, packageMode
}

func (p *processor) hasOwnedItems() bool {
	for _, it := range p.rl.Items {
		if _, ok := keyOf(it); ok && it.GetAnnotation(SourceAnnotation) != "" {
			return true
		}
	}
	return false
}

// field is where the name of g comes from in its source.
func (g *generated) field() *field.Path {
	if g.kind == mcpKind {
		return g.src.at("machineConfigPool")
	}
	return g.src.at("machineConfigName")
}

type itemKey struct{ kind, name string }

func keyOf(o *fn.KubeObject) (itemKey, bool) {
	if o.GetAPIVersion() != mcAPIVersion || (o.GetKind() != mcKind && o.GetKind() != mcpKind) {
		return itemKey{}, false
	}
	return itemKey{o.GetKind(), o.GetName()}, true
}

// checkConflicts rejects two outputs with one name, and an output whose name
// is taken by an item the function does not own in this run.
func (p *processor) checkConflicts(sources []*source, outputs []*generated) {
	visible := map[string]bool{}
	for _, s := range sources {
		visible[s.ref()] = true
	}
	byKey := map[itemKey]*generated{}
	for _, g := range outputs {
		k := itemKey{g.kind, g.name}
		if o, ok := byKey[k]; ok {
			p.add(g.src.obj, fn.Error, g.field(), g.name,
				fmt.Sprintf("%s %s is also generated by %s: give each module its own machineConfigName, and machineConfigPoolSpec to one module per pool", g.kind, g.name, describe(o.src.obj)))
			continue
		}
		byKey[k] = g
	}
	for _, it := range p.rl.Items {
		k, ok := keyOf(it)
		if !ok {
			continue
		}
		g, ok := byKey[k]
		if !ok {
			continue
		}
		owner := it.GetAnnotation(SourceAnnotation)
		switch {
		case owner == "":
			p.add(g.src.obj, fn.Error, g.field(), g.name,
				fmt.Sprintf("a %s named %s that day1kmod did not generate is already among the resources (%s): choose another name", g.kind, g.name, describe(it)))
		case !visible[owner]:
			p.add(g.src.obj, fn.Error, g.field(), g.name,
				fmt.Sprintf("%s %s among the resources was generated from %s: choose another name", g.kind, g.name, owner))
		}
	}
}

// merge writes the new item list: items the function does not own stay as
// they are and where they are; an owned item is replaced in place by its new
// version, or removed when its source no longer generates it; new items are
// appended in source order.
func (p *processor) merge(sources []*source, outputs []*generated, packageMode bool) {
	visible := map[string]bool{}
	for _, s := range sources {
		visible[s.ref()] = true
	}
	byKey := map[itemKey]*generated{}
	for _, g := range outputs {
		byKey[itemKey{g.kind, g.name}] = g
	}
	placed := map[*generated]bool{}
	items := make(fn.KubeObjects, 0, len(p.rl.Items)+len(outputs))
	for _, it := range p.rl.Items {
		// Only the kinds the function generates are its own.
		k, generatedKind := keyOf(it)
		owner := it.GetAnnotation(SourceAnnotation)
		if !generatedKind || owner == "" || (!visible[owner] && !packageMode) {
			items = append(items, it)
			continue
		}
		if g := byKey[k]; g != nil && !placed[g] {
			copyPlacement(it, g.obj)
			items = append(items, g.obj)
			placed[g] = true
			continue
		}
		why := "its " + Kind + " no longer generates it"
		if !visible[owner] {
			why = "its source " + owner + " is gone"
		}
		p.results = append(p.results, &fn.Result{Severity: fn.Info,
			Message:     fmt.Sprintf("removed %s %s: %s", it.GetKind(), it.GetName(), why),
			ResourceRef: &fn.ResourceRef{APIVersion: it.GetAPIVersion(), Kind: it.GetKind(), Name: it.GetName()},
			File:        fileOf(it)})
	}
	for _, g := range outputs {
		if placed[g] {
			continue
		}
		dir := ""
		if g.src.isItem {
			if d := path.Dir(objPath(g.src.obj)); d != "." && d != "/" {
				dir = d
			}
		}
		file := path.Join(dir, strings.ToLower(g.kind)+"_"+g.name+".yaml")
		if err := g.obj.SetAnnotation(kioutil.PathAnnotation, file); err != nil {
			p.add(g.src.obj, fn.Error, g.field(), g.name, err.Error())
			return
		}
		if err := g.obj.SetAnnotation(kioutil.IndexAnnotation, "0"); err != nil {
			p.add(g.src.obj, fn.Error, g.field(), g.name, err.Error())
			return
		}
		items = append(items, g.obj)
	}
	p.rl.Items = items
}

// copyPlacement keeps the file, index and id the orchestrator gave the
// previous version of a generated item.
func copyPlacement(from, to *fn.KubeObject) {
	// In the order they have in from, so that a re-run is byte-identical.
	annotations, err := from.CopyToResourceNode().Pipe(yaml.Lookup("metadata", "annotations"))
	if err != nil || annotations == nil {
		return
	}
	keys, err := annotations.Fields()
	if err != nil {
		return
	}
	values := from.GetAnnotations()
	for _, k := range keys {
		if strings.HasPrefix(k, "internal.config.kubernetes.io/") ||
			k == kioutil.LegacyPathAnnotation || k == kioutil.LegacyIndexAnnotation || k == kioutil.LegacyIdAnnotation {
			_ = to.SetAnnotation(k, values[k])
		}
	}
}

func describe(o *fn.KubeObject) string {
	s := o.GetKind() + " " + o.GetName()
	if f := objPath(o); f != "" {
		s += " in " + f
	}
	return s
}

func fileOf(o *fn.KubeObject) *fn.File {
	f := objPath(o)
	if f == "" {
		return nil
	}
	i, _ := objIndex(o)
	return &fn.File{Path: f, Index: i}
}

// add appends a result about obj.
func (p *processor) add(obj *fn.KubeObject, sev fn.Severity, fp *field.Path, value any, msg string) {
	ps := ""
	if fp != nil {
		ps = fp.String()
	}
	p.addAt(obj, sev, ps, value, msg)
}

func (p *processor) addAt(obj *fn.KubeObject, sev fn.Severity, fp string, value any, msg string) {
	r := &fn.Result{Severity: sev, Message: msg}
	if obj != nil && !obj.IsEmpty() {
		r.ResourceRef = &fn.ResourceRef{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Name: obj.GetName(), Namespace: obj.GetNamespace()}
		r.File = fileOf(obj)
	}
	if fp != "" {
		r.Field = &fn.Field{Path: fp, CurrentValue: value}
	}
	if sev == fn.Error {
		p.failed = true
	}
	p.results = append(p.results, r)
}

// fieldResult turns a validation error into a result.
func (p *processor) fieldResult(obj *fn.KubeObject, sev fn.Severity, fe *field.Error) {
	var value any = fe.BadValue
	if _, omit := value.(field.OmitValueType); omit || fe.Type == field.ErrorTypeRequired {
		value = nil
	}
	fp := fe.Field
	if fp == "<nil>" {
		fp = ""
	}
	msg := fe.ErrorBody()
	if fe.Origin == originUnknown {
		msg = fe.Detail
	}
	p.addAt(obj, sev, fp, value, msg)
}
