package machineconfig

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/day1kmod/day1kmod/pkg/lazyregexp"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// KernelVersionPlaceholder in an image tag is replaced on the node by `uname -r`.
const KernelVersionPlaceholder = nodescripts.KernelVersionPlaceholder

// MaxKernelVersionLength is the longest `uname -r` a node can have: the
// kernel's release field holds 64 characters (__NEW_UTS_LEN). Real versions
// come close: RT and 64k kernels add "+rt" or "+64k" to already long RHEL
// versions. A tag with the placeholder must fit with a version this long.
const MaxKernelVersionLength = 64

// maxTagLength is the OCI distribution limit on a tag.
const maxTagLength = 128

// Image is a validated kernel module image reference.
type Image struct {
	// Reference is written to the node as is; a tag-less image gets the tag
	// KernelVersionPlaceholder.
	Reference string
	// FollowsKernel is true when the tag changes with the node's kernel, false
	// for a fixed tag or a digest (which will not follow kernel upgrades).
	FollowsKernel bool
}

// The parts of a reference podman (containers/image, whose grammar is the
// distribution reference) refuses although go-containerregistry's parser,
// which checks only the characters of the registry and repository, lets
// them through.
var (
	domainComponentRE = lazyregexp.New(`^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$`)
	pathComponentRE   = lazyregexp.New(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
)

// ParseImage validates an image reference with go-containerregistry's strict
// parser (the registry must be explicit, because the nodes' podman refuses
// short names it cannot resolve without a terminal), then checks the parsed
// registry and repository against what the node's podman accepts. Every
// error says why the node would refuse the reference.
func ParseImage(s string) (Image, error) {
	if s == "" {
		return Image{}, fmt.Errorf("must not be empty")
	}
	if err := plainASCII(s); err != nil {
		return Image{}, err
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return Image{}, fmt.Errorf("%s: a reference has no scheme (%s): write it as podman pull takes it, e.g. %s", refusedByNode, s[:i+3], s[i+3:])
	}
	var (
		ref     name.Reference
		err     error
		img     Image
		repoStr string // the reference without its digest, for explain
	)
	switch {
	case strings.Contains(s, "@"):
		if strings.Contains(s, KernelVersionPlaceholder) {
			return Image{}, fmt.Errorf("%s cannot be combined with a digest", KernelVersionPlaceholder)
		}
		repoStr = s[:strings.Index(s, "@")]
		if _, tag, hasTag := splitTag(repoStr); hasTag {
			if err := checkTag(tag); err != nil {
				return Image{}, err
			}
		}
		if ref, err = name.NewDigest(s, name.StrictValidation); err != nil {
			return Image{}, explain(err, repoStr)
		}
		img = Image{Reference: s}
	default:
		repo, tag, hasTag := splitTag(s)
		repoStr = repo
		if strings.Contains(repo, KernelVersionPlaceholder) {
			return Image{}, fmt.Errorf("%s may only appear in the tag", KernelVersionPlaceholder)
		}
		if !hasTag {
			r, err := name.NewRepository(repo, name.StrictValidation)
			if err != nil {
				return Image{}, explain(err, repo)
			}
			ref = r.Tag("latest") // only its repository is used below
			img = Image{Reference: repo + ":" + KernelVersionPlaceholder, FollowsKernel: true}
			break
		}
		if err := checkTag(tag); err != nil {
			return Image{}, err
		}
		// The longest kernel version stands in for the placeholder, so the
		// parser checks the characters and the length any node will use.
		probe := repo + ":" + strings.ReplaceAll(tag, KernelVersionPlaceholder, strings.Repeat("0", MaxKernelVersionLength))
		if ref, err = name.NewTag(probe, name.StrictValidation); err != nil {
			return Image{}, explain(err, repo)
		}
		img = Image{Reference: s, FollowsKernel: strings.Contains(tag, KernelVersionPlaceholder)}
	}
	if err := checkRegistry(ref.Context().RegistryStr()); err != nil {
		return Image{}, err
	}
	if err := checkRepository(ref.Context().RepositoryStr()); err != nil {
		return Image{}, err
	}
	return img, nil
}

// refusedByNode prefixes the reasons the node's podman would give.
const refusedByNode = "the node would refuse this"

func plainASCII(s string) error {
	for i, r := range s {
		if r >= utf8.RuneSelf || r < ' ' || r == 0x7f {
			return fmt.Errorf("%s: character %d is %q (U+%04X): a reference holds only ASCII letters, digits and ._-:/@ (a look-alike Unicode letter names another registry)", refusedByNode, i+1, r, r)
		}
	}
	return nil
}

// checkTag checks the tag as written; the placeholder counts with the
// longest kernel version a node can have.
func checkTag(tag string) error {
	n := strings.Count(tag, KernelVersionPlaceholder)
	length := len(tag) - n*len(KernelVersionPlaceholder) + n*MaxKernelVersionLength
	if n > 0 && length > maxTagLength {
		return fmt.Errorf("%s: the tag can be %d characters on a node, over the limit of %d: %s stands for `uname -r`, which can be %d characters long (the kernel's limit; RT and 64k kernel versions are longer than the usual ones); shorten the rest of the tag to at most %d characters",
			refusedByNode, length, maxTagLength, KernelVersionPlaceholder, MaxKernelVersionLength, maxTagLength-n*MaxKernelVersionLength)
	}
	if tag != "" && (tag[0] == '-' || tag[0] == '.') {
		return fmt.Errorf("%s: a tag starts with a letter, a digit or '_', not %q", refusedByNode, tag[:1])
	}
	return nil
}

// checkRegistry: host or bracketed IPv6 address, optional port 1-65535.
func checkRegistry(reg string) error {
	host, port := reg, ""
	if strings.HasPrefix(reg, "[") {
		end := strings.Index(reg, "]")
		if end < 0 {
			return fmt.Errorf("%s: registry %q opens '[' without closing it", refusedByNode, reg)
		}
		host, port = reg[1:end], strings.TrimPrefix(reg[end+1:], ":")
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil || strings.Contains(host, "%") {
			return fmt.Errorf("%s: registry %q: only an IPv6 address goes in brackets", refusedByNode, reg)
		}
		if port == "" && reg[end+1:] != "" {
			return fmt.Errorf("%s: registry %q: a ':' must be followed by a port", refusedByNode, reg)
		}
	} else {
		if strings.Count(reg, ":") > 1 {
			return fmt.Errorf("%s: registry %q looks like an IPv6 address: write it in brackets, e.g. [fe80::1]:5000/acme/ice", refusedByNode, reg)
		}
		var hasPort bool
		host, port, hasPort = strings.Cut(reg, ":")
		if hasPort && port == "" {
			return fmt.Errorf("%s: registry %q: a ':' must be followed by a port", refusedByNode, reg)
		}
		for _, c := range strings.Split(host, ".") {
			if !domainComponentRE().MatchString(c) {
				return fmt.Errorf("%s: registry host %q: each dot-separated part holds letters, digits and inner '-'", refusedByNode, host)
			}
		}
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || port[0] == '0' {
			return fmt.Errorf("%s: registry %q: the port must be a number from 1 to 65535", refusedByNode, reg)
		}
	}
	return nil
}

// checkRepository: '/'-separated non-empty components of the distribution
// grammar (no leading, trailing or doubled separators).
func checkRepository(repo string) error {
	for _, c := range strings.Split(repo, "/") {
		switch {
		case c == "":
			return fmt.Errorf("%s: repository %q has an empty path component (a leading or trailing '/', or '//')", refusedByNode, repo)
		case !pathComponentRE().MatchString(c):
			return fmt.Errorf("%s: repository path component %q: lower-case letters and digits, separated by one '.', one or two '_', or '-'", refusedByNode, c)
		}
	}
	return nil
}

// splitTag splits "registry:port/repo:tag" at the tag's colon, which is the
// last one after the last slash.
func splitTag(s string) (repo, tag string, ok bool) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[i:], "/") {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// explain turns the parser's complaint about a short name (no registry
// host: a first component without '.' or ':' that is not localhost) into
// what the user should write.
func explain(err error, repo string) error {
	if _, weakErr := name.NewRepository(repo); weakErr != nil {
		return fmt.Errorf("%s: %w", refusedByNode, err) // wrong in other ways than being short
	}
	first, _, hasSlash := strings.Cut(repo, "/")
	if !hasSlash || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return fmt.Errorf("%s: must name its registry, e.g. quay.io/%s: the nodes' podman refuses short names it cannot resolve without a terminal", refusedByNode, repo)
	}
	return fmt.Errorf("%s: %w", refusedByNode, err)
}
