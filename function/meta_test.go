package function

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
)

// jsonKinds: the JSON names and kinds of t's fields, inline ones flattened.
func jsonKinds(t reflect.Type) map[string]reflect.Kind {
	out := map[string]reflect.Kind{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		k := f.Type.Kind()
		if k == reflect.Pointer {
			k = f.Type.Elem().Kind()
		}
		out[name] = k
	}
	return out
}

// The mirrored types have metav1's JSON fields, each of the same kind of
// value (a timestamp is a string in JSON, metav1.Time a struct).
func TestMetaMirrorsKubernetes(t *testing.T) {
	for _, tc := range []struct{ ours, theirs reflect.Type }{
		{reflect.TypeFor[TypeMeta](), reflect.TypeFor[metav1.TypeMeta]()},
		{reflect.TypeFor[ObjectMeta](), reflect.TypeFor[metav1.ObjectMeta]()},
		{reflect.TypeFor[LabelSelector](), reflect.TypeFor[metav1.LabelSelector]()},
		{reflect.TypeFor[LabelSelectorRequirement](), reflect.TypeFor[metav1.LabelSelectorRequirement]()},
	} {
		ours, theirs := jsonKinds(tc.ours), jsonKinds(tc.theirs)
		for name, k := range theirs {
			switch got, ok := ours[name]; {
			case !ok:
				t.Errorf("%s has no field %s of %s", tc.ours, name, tc.theirs)
			case got != k && !(k == reflect.Struct && got == reflect.String):
				t.Errorf("%s.%s is a %s, %s's a %s", tc.ours, name, got, tc.theirs, k)
			}
		}
		for name := range ours {
			if _, ok := theirs[name]; !ok {
				t.Errorf("%s has a field %s that %s has not", tc.ours, name, tc.theirs)
			}
		}
	}
	for _, op := range []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist} {
		if !slices.Contains([]string{LabelSelectorOpIn, LabelSelectorOpNotIn, LabelSelectorOpExists, LabelSelectorOpDoesNotExist}, string(op)) {
			t.Errorf("operator %s is missing", op)
		}
	}
}

// Every field metav1.ObjectMeta writes decodes strictly into ObjectMeta.
func TestObjectMetaDecodesWhatKubernetesWrites(t *testing.T) {
	now := metav1.Now()
	grace := int64(30)
	full := metav1.ObjectMeta{
		Name: "ice", GenerateName: "ice-", Namespace: "ns", SelfLink: "/x", UID: "u-1", ResourceVersion: "7",
		Generation: 3, CreationTimestamp: now, DeletionTimestamp: &now, DeletionGracePeriodSeconds: &grace,
		Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"c": "d"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "o", UID: "u-2"}},
		Finalizers:      []string{"f"},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, Time: &now}},
	}
	raw, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var ours ObjectMeta
	strict, err := sigsjson.UnmarshalStrict(raw, &ours)
	if err != nil || len(strict) > 0 {
		t.Fatalf("%s: %v %v", raw, err, strict)
	}
	if ours.Name != full.Name || ours.Namespace != full.Namespace || !reflect.DeepEqual(ours.Labels, full.Labels) || !reflect.DeepEqual(ours.Annotations, full.Annotations) {
		t.Errorf("decoded %+v", ours)
	}
}

// validateLabelSelector says what metav1validation.ValidateLabelSelector
// says, error for error.
func TestValidateLabelSelectorIsKubernetes(t *testing.T) {
	long := strings.Repeat("a", 64)
	cases := []LabelSelector{
		{},
		{MatchLabels: map[string]string{"node-role.kubernetes.io/ice": ""}},
		{MatchLabels: map[string]string{"a": "b", "z/y": "x"}},
		{MatchLabels: map[string]string{"bad key": "v", "k": "bad value!", long: long, "-x": "", "a/b/c": "-"}},
		{MatchExpressions: []LabelSelectorRequirement{{Key: "k", Operator: "In", Values: []string{"a", "b"}}}},
		{MatchExpressions: []LabelSelectorRequirement{{Key: "k", Operator: "NotIn"}}},
		{MatchExpressions: []LabelSelectorRequirement{{Key: "k", Operator: "Exists", Values: []string{"a"}}}},
		{MatchExpressions: []LabelSelectorRequirement{{Key: "k", Operator: "DoesNotExist"}}},
		{MatchExpressions: []LabelSelectorRequirement{{Key: "", Operator: "Gt", Values: []string{"1", "bad value!", long}}}},
		{MatchLabels: map[string]string{"k": "v"}, MatchExpressions: []LabelSelectorRequirement{{Key: "x y", Operator: "in", Values: []string{"a"}}, {Key: "k", Operator: "In"}}},
	}
	p := field.NewPath("spec", "machineConfigPoolSpec", "nodeSelector")
	for i, sel := range cases {
		raw, err := json.Marshal(sel)
		if err != nil {
			t.Fatal(err)
		}
		var theirs metav1.LabelSelector
		if err := json.Unmarshal(raw, &theirs); err != nil {
			t.Fatal(err)
		}
		want := errorStrings(metav1validation.ValidateLabelSelector(&theirs, metav1validation.LabelSelectorValidationOptions{}, p))
		got := errorStrings(validateLabelSelector(&sel, p))
		// Kubernetes walks matchLabels in map order; ours is sorted.
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("case %d %s:\ngot  %q\nwant %q", i, raw, got, want)
		}
	}
	if errs := validateLabelSelector(nil, p); len(errs) != 0 {
		t.Errorf("nil selector: %v", errs)
	}
}

func errorStrings(errs field.ErrorList) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Error()+" origin="+e.Origin)
	}
	return out
}
