package function

import "testing"

// The nearest field wins, a swap of two letters is one edit, and a name
// near nothing gets no hint.
func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ kind, parent, name, want string }{
		{Kind, "spec", "kernelModuleNmae", "kernelModuleName"},
		{Kind, "spec", "kernelModuleImag", "kernelModuleImage"},
		{Kind, "spec", "kernelmodulename", "kernelModuleName"},
		{Kind, "spec", "machineConfigPol", "machineConfigPool"},
		{Kind, "spec", "inTreeModuleToRemove", "inTreeModulesToRemove"},
		{Kind, "spec", "additionalModule", "additionalModules"},
		{Kind, "spec.additionalModules[0]", "nmae", "name"},
		{Kind, "spec.additionalModules[1]", "parameter", "parameters"},
		{Kind, "", "sepc", "spec"},
		{Kind, "", "metdata", "metadata"},
		{Kind, "spec", "colour", ""},
		{Kind, "", "x", ""},
		{BootModuleConfigKind, "spec", "machineConfigPool", "machineConfigPoolName"},
		{BootModuleConfigKind, "spec", "firmwarePath", "firmwareFilesPath"},
		{"ConfigMap", "data", "kernelModuleNmae", "kernelModuleName"},
	} {
		if got := suggest(tc.kind, tc.parent, tc.name); got != tc.want {
			t.Errorf("suggest(%s, %q, %q) = %q, want %q", tc.kind, tc.parent, tc.name, got, tc.want)
		}
	}
}
