package nodescripts

import "strings"

// ModuleFileSuffixes are the endings of the files that count as a kernel
// module: an uncompressed object and the compressed forms kmod loads (the
// kernel's CONFIG_MODULE_COMPRESS_{XZ,ZSTD,GZIP}).
var ModuleFileSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// ModuleOfFile is the module name a file's base name stands for ("ice" for
// "ice.ko.xz"), and false when the file is not a module file.
//
// lib.sh's find_module_file is the node's copy of this rule (with
// ModuleKey); both are tested against testdata/module-files.tsv.
func ModuleOfFile(base string) (string, bool) {
	for _, s := range ModuleFileSuffixes {
		if name, ok := strings.CutSuffix(base, s); ok && name != "" {
			return name, true
		}
	}
	return "", false
}

// ModuleKey is the form in which module names compare: the kernel treats
// '-' and '_' in a module name as the same character.
func ModuleKey(name string) string { return strings.ReplaceAll(name, "-", "_") }
