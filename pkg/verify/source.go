package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Source gives the image the node would pull for a reference (already
// resolved for one kernel), for a platform.
type Source interface {
	Image(ctx context.Context, ref string, platform v1.Platform) (*Found, error)
	// String says where images come from, for the report.
	String() string
}

// Found is an image a Source found, and how.
type Found struct {
	Image v1.Image
	// Note says how the image was chosen when it is not plain (e.g. a local
	// archive's image matched by tag under another repository name).
	Note string
}

// Registry reads images from their registry, as the node's podman does.
type Registry struct {
	// Keychain gives credentials. Nil: authn.DefaultKeychain (the docker
	// and podman config files of the user).
	Keychain authn.Keychain
	// Insecure allows a plain-HTTP registry (name.Insecure).
	Insecure bool
	// Transport carries the requests. Nil: remote.DefaultTransport, which
	// takes the proxy from the environment (HTTPS_PROXY, NO_PROXY).
	Transport http.RoundTripper
}

func (r *Registry) String() string { return "registry" }

func (r *Registry) Image(ctx context.Context, ref string, platform v1.Platform) (*Found, error) {
	var opts []name.Option
	if r.Insecure {
		opts = append(opts, name.Insecure)
	}
	nref, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, err
	}
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(platform)}
	if r.Transport != nil {
		ropts = append(ropts, remote.WithTransport(r.Transport))
	}
	img, err := remote.Image(nref, ropts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		// Say which tags there are: most often the build for this kernel
		// was not pushed, or under another tag.
		if tags, lerr := remote.List(nref.Context(), ropts...); lerr == nil {
			sort.Strings(tags)
			return nil, fmt.Errorf("%w; the repository's tags: %s", err, list(tags))
		}
	}
	if err != nil {
		return nil, err
	}
	return &Found{Image: img}, nil
}

// AuthFile is a keychain reading one docker or podman auth file (the
// cluster pull secret, ~/.docker/config.json, ${XDG_RUNTIME_DIR}/containers/auth.json).
func AuthFile(path string) (authn.Keychain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &fileKeychain{cf}, nil
}

type fileKeychain struct{ cf *configfile.ConfigFile }

// Resolve looks the repository up, then the registry, as authn's default
// keychain and podman do.
func (k *fileKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		cfg, err := k.cf.GetAuthConfig(key)
		if err != nil {
			return nil, err
		}
		if cfg.Username != "" || cfg.Password != "" || cfg.Auth != "" || cfg.IdentityToken != "" || cfg.RegistryToken != "" {
			return authn.FromConfig(authn.AuthConfig{
				Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
				IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// Open is the Source for a local path: a directory is an OCI image layout,
// a file a `docker save` / `podman save` (docker-archive) tarball.
func Open(path string) (Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "index.json")); err != nil {
			return nil, fmt.Errorf("%s is a directory but not an OCI image layout (no index.json)", path)
		}
		p, err := layout.FromPath(path)
		if err != nil {
			return nil, err
		}
		return &Layout{Path: p}, nil
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return nil, fmt.Errorf("%s is not a docker-archive tarball (docker save, podman save): %w", path, err)
	}
	return &Tarball{File: path, manifest: m}, nil
}

// candidate is one image of a local archive and the names it carries.
type candidate struct {
	names []string
	pick  func(v1.Platform) (v1.Image, error)
}

// choose picks the archive image the node would get for ref: the one named
// ref; else the one with ref's tag and image name under another registry or
// path (built and saved locally: localhost/ice-kmod:K for
// quay.io/acme/ice-kmod:K), or named by its tag alone (an OCI layout's
// ref.name); else, for a digest, the only image (a docker-archive keeps no
// digest); else the only one, when it has no name at all.
func choose(where, ref string, cands []candidate, platform v1.Platform) (*Found, error) {
	nref, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	id := nref.Identifier()
	_, isDigest := nref.(name.Digest)
	base := path.Base(nref.Context().RepositoryStr())
	var byTag []int
	var byTagName []string
	var all []string
	for i, c := range cands {
		for _, n := range c.names {
			all = append(all, n)
			if n == ref || n == nref.Name() || (isDigest && n == id) {
				img, err := c.pick(platform)
				return &Found{Image: img}, err
			}
			other, err := name.ParseReference(n)
			if n == id || (err == nil && other.Identifier() == id && path.Base(other.Context().RepositoryStr()) == base) {
				byTag = append(byTag, i)
				byTagName = append(byTagName, n)
			}
		}
	}
	switch {
	case len(byTag) == 1:
		img, err := cands[byTag[0]].pick(platform)
		return &Found{Image: img, Note: fmt.Sprintf("%s names it %s", where, byTagName[0])}, err
	case len(cands) == 1 && isDigest:
		img, err := cands[0].pick(platform)
		return &Found{Image: img, Note: where + " cannot show the registry's digest; its only image is checked"}, err
	case len(cands) == 1 && len(cands[0].names) == 0:
		img, err := cands[0].pick(platform)
		return &Found{Image: img, Note: where + " holds one image, without a name"}, err
	}
	sort.Strings(all)
	if len(all) == 0 {
		return nil, fmt.Errorf("none of its %d images has a name", len(cands))
	}
	return nil, fmt.Errorf("no image named %s in it (nor %s:%s under another registry; it holds: %s)", ref, base, id, strings.Join(all, ", "))
}

// Layout reads images from an OCI image layout directory.
type Layout struct{ Path layout.Path }

func (l *Layout) String() string { return "OCI layout " + string(l.Path) }

// Annotations naming an image in an index: the OCI one (a tag, or a whole
// reference as podman and skopeo write it) and containerd's.
const (
	refNameAnnotation    = "org.opencontainers.image.ref.name"
	containerdAnnotation = "io.containerd.image.name"
)

func (l *Layout) Image(_ context.Context, ref string, platform v1.Platform) (*Found, error) {
	idx, err := l.Path.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var cands []candidate
	for _, d := range im.Manifests {
		d := d
		var names []string
		for _, a := range []string{refNameAnnotation, containerdAnnotation} {
			if v := d.Annotations[a]; v != "" {
				names = append(names, v)
			}
		}
		names = append(names, d.Digest.String())
		cands = append(cands, candidate{names: names, pick: func(p v1.Platform) (v1.Image, error) {
			if d.MediaType.IsIndex() {
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					return nil, err
				}
				return platformImage(child, p)
			}
			return idx.Image(d.Digest)
		}})
	}
	// An image with nothing but its digest counts as unnamed.
	if len(cands) == 1 && len(cands[0].names) == 1 {
		if n, err := name.ParseReference(ref); err != nil || n.Identifier() != cands[0].names[0] {
			cands[0].names = nil
		}
	}
	return choose(l.String(), ref, cands, platform)
}

// platformImage picks platform's image from a multi-platform index.
func platformImage(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Satisfies(p) {
			return idx.Image(d.Digest)
		}
		if d.Platform != nil {
			have = append(have, d.Platform.String())
		}
	}
	return nil, fmt.Errorf("no image for platform %s (it has: %s)", p.String(), strings.Join(have, ", "))
}

// Tarball reads images from a docker-archive tarball.
type Tarball struct {
	File     string
	manifest tarball.Manifest
}

func (t *Tarball) String() string { return "archive " + t.File }

func (t *Tarball) Image(_ context.Context, ref string, platform v1.Platform) (*Found, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(t.File) }
	var cands []candidate
	for _, d := range t.manifest {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			tg, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("%s: bad RepoTags %q: %w", t, d.RepoTags[0], err)
			}
			tag = &tg
		}
		if tag == nil && len(t.manifest) > 1 {
			continue // cannot be selected by tarball.Image
		}
		cands = append(cands, candidate{names: d.RepoTags, pick: func(v1.Platform) (v1.Image, error) {
			return tarball.Image(opener, tag)
		}})
	}
	if len(cands) == 0 {
		return nil, errors.New("it holds no image")
	}
	return choose(t.String(), ref, cands, platform)
}
