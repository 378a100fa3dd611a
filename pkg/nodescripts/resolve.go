package nodescripts

import "strings"

// KernelTag is the image tag that stands for kernel version kver: kver with
// every character a tag may not hold mapped to '_' (the '+' of real-time
// "…x86_64+rt" and 64k-page "…aarch64+64k" kernels), as KMM maps it. A tag
// is [A-Za-z0-9_][A-Za-z0-9_.-]*; kernel versions start with a digit. The
// on-node tree keeps the real `uname -r`: only the tag is mapped.
//
// lib.sh's kernel_tag is the node's copy of this rule; both are tested
// against testdata/kernel-tags.tsv.
func KernelTag(kver string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, kver)
}

// ResolveImage is the reference the node pulls for kernel kver: image with
// KernelVersionPlaceholder replaced by KernelTag(kver). An image without the
// placeholder (a fixed tag, a digest) is returned as is. lib.sh's
// resolve_image is the node's copy of this rule.
func ResolveImage(image, kver string) string {
	return strings.ReplaceAll(image, KernelVersionPlaceholder, KernelTag(kver))
}
