package mcproducer

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// KernelVersionPlaceholder in an image tag is replaced on the node by `uname -r`.
const KernelVersionPlaceholder = nodescripts.KernelVersionPlaceholder

// Image is a validated kernel module image reference.
type Image struct {
	// Reference is written to the node as is; a tag-less image gets the tag
	// KernelVersionPlaceholder.
	Reference string
	// FollowsKernel is true when the tag changes with the node's kernel, false
	// for a fixed tag or a digest (which will not follow kernel upgrades).
	FollowsKernel bool
}

// ParseImage validates an image reference with go-containerregistry's strict
// parser: the registry must be explicit, because the nodes' podman refuses
// short names it cannot resolve without a terminal.
func ParseImage(s string) (Image, error) {
	if s == "" {
		return Image{}, fmt.Errorf("must not be empty")
	}
	if strings.Contains(s, "@") {
		if strings.Contains(s, KernelVersionPlaceholder) {
			return Image{}, fmt.Errorf("%s cannot be combined with a digest", KernelVersionPlaceholder)
		}
		if _, err := name.NewDigest(s, name.StrictValidation); err != nil {
			return Image{}, explain(err, s[:strings.Index(s, "@")])
		}
		return Image{Reference: s}, nil
	}
	repo, tag, hasTag := splitTag(s)
	if strings.Contains(repo, KernelVersionPlaceholder) {
		return Image{}, fmt.Errorf("%s may only appear in the tag", KernelVersionPlaceholder)
	}
	if !hasTag {
		if _, err := name.NewRepository(repo, name.StrictValidation); err != nil {
			return Image{}, explain(err, repo)
		}
		return Image{Reference: repo + ":" + KernelVersionPlaceholder, FollowsKernel: true}, nil
	}
	// A typical kernel version stands in for the placeholder so that the
	// parser checks the characters and the length the node will use.
	const sampleKernel = "5.14.0-570.12.1.el9_6.x86_64"
	probe := repo + ":" + strings.ReplaceAll(tag, KernelVersionPlaceholder, sampleKernel)
	if _, err := name.NewTag(probe, name.StrictValidation); err != nil {
		return Image{}, explain(err, repo)
	}
	return Image{Reference: s, FollowsKernel: strings.Contains(tag, KernelVersionPlaceholder)}, nil
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
		return err // wrong in other ways than being short
	}
	first, _, hasSlash := strings.Cut(repo, "/")
	if !hasSlash || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return fmt.Errorf("must name its registry, e.g. quay.io/%s: the nodes' podman refuses short names it cannot resolve without a terminal", repo)
	}
	return err
}
