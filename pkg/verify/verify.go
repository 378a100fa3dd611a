// Package verify checks a kernel module image against the kernels it must
// serve, with the node's rules, before any node pulls it: the tag each kernel
// resolves to, the tree /opt/lib/modules/<kernel>/, each module's vermagic
// and dependencies, the firmware directory, symlinks, special files and the
// size bound. It reads images without running them, from a registry or a
// local archive, streaming their files.
package verify

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// Target is what one Day1KernelModule asks of its image.
type Target struct {
	// Name is N, for the report.
	Name string
	// Image is the reference as configured (tagless, with
	// ${KERNEL_FULL_VERSION}, a fixed tag or a digest).
	Image string
	// Modules are the modules the node loads from the tree: the
	// kernelModuleName first, then any further ones.
	Modules []string
	// FirmwarePath is the firmware directory inside the image, or empty.
	FirmwarePath string
}

// TargetOf is the Target of a validated Day1KernelModule spec.
func TargetOf(c machineconfig.Config) Target {
	c = c.WithDefaults()
	modules := []string{c.KernelModuleName}
	for _, m := range c.AdditionalModules {
		modules = append(modules, m.Name)
	}
	return Target{Name: c.Name, Image: c.KernelModuleImage, Modules: modules, FirmwarePath: c.FirmwarePath}
}

// Options are the facts verify cannot read from the image.
type Options struct {
	// Kernels are the kernel versions (uname -r) the image must serve.
	Kernels []string
	// HostModules are the names of the modules the nodes' kernels ship (in
	// any of the forms ParseHostModules takes). Nil: unknown, and a
	// dependency that is not in the image is reported as info.
	HostModules []string
	// Platform is the image platform to check. Nil: the one the kernel
	// version names (…x86_64 → linux/amd64, …aarch64 → linux/arm64, …).
	Platform *v1.Platform
	// MaxTreeBytes bounds one kernel's trees. Zero: nodescripts.MaxTreeBytes,
	// the node's bound.
	MaxTreeBytes int64
	// Progress, when set, receives one line now and then while a large
	// image is read.
	Progress io.Writer
}

// Verify checks t's image for every kernel of opts. Kernels whose reference
// and platform are the same share one read of the image.
func Verify(ctx context.Context, src Source, t Target, opts Options) Report {
	rep := Report{OK: true}
	img, err := machineconfig.ParseImage(t.Image)
	type group struct {
		ref      string
		platform v1.Platform
		kernels  []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, k := range opts.Kernels {
		if err != nil {
			rep.add(Row{Name: t.Name, Kernel: k, Reference: t.Image, Check: CheckImage, Status: Fail, Reason: "bad image reference: " + err.Error()})
			continue
		}
		ref := nodescripts.ResolveImage(img.Reference, k)
		p := platformOf(k)
		if opts.Platform != nil {
			p = *opts.Platform
		}
		key := ref + " " + p.String()
		g := byKey[key]
		if g == nil {
			g = &group{ref: ref, platform: p}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.kernels = append(g.kernels, k)
	}
	host := map[string]bool{}
	for _, m := range opts.HostModules {
		host[nodescripts.ModuleKey(m)] = true
	}
	for _, g := range groups {
		v := &checker{t: t, rep: &rep, ref: g.ref, host: host, hostKnown: opts.HostModules != nil, maxBytes: opts.MaxTreeBytes}
		if v.maxBytes == 0 {
			v.maxBytes = nodescripts.MaxTreeBytes
		}
		if ctx.Err() != nil {
			for _, k := range g.kernels {
				v.row(k, CheckImage, "", Fail, ctx.Err().Error())
			}
			continue
		}
		v.image(ctx, src, img, g.kernels, g.platform, opts.Progress)
	}
	return rep
}

// platformOf is the platform a kernel version names by its architecture
// suffix (RHEL "…el9_6.x86_64", "…aarch64+64k"; Debian "…-amd64", "…-arm64").
func platformOf(kernel string) v1.Platform {
	k, _, _ := strings.Cut(kernel, "+")
	for _, a := range []struct{ suffix, arch string }{
		{"x86_64", "amd64"}, {"amd64", "amd64"}, {"aarch64", "arm64"}, {"arm64", "arm64"},
		{"ppc64le", "ppc64le"}, {"s390x", "s390x"},
	} {
		if strings.HasSuffix(k, a.suffix) {
			return v1.Platform{OS: "linux", Architecture: a.arch}
		}
	}
	return v1.Platform{OS: "linux", Architecture: "amd64"}
}

type checker struct {
	t         Target
	rep       *Report
	ref       string
	host      map[string]bool
	hostKnown bool
	maxBytes  int64
}

func (v *checker) row(kernel, check, module string, s Status, reason string) {
	v.rep.add(Row{Name: v.t.Name, Kernel: kernel, Reference: v.ref, Check: check, Module: module, Status: s, Reason: reason})
}

// image reads the image for kernels (one reference, one platform) and
// checks each kernel's tree in it.
func (v *checker) image(ctx context.Context, src Source, img machineconfig.Image, kernels []string, p v1.Platform, progress io.Writer) {
	found, err := src.Image(ctx, v.ref, p)
	if err == nil && found.Image == nil {
		err = fmt.Errorf("no image")
	}
	if err != nil {
		for _, k := range kernels {
			v.row(k, CheckImage, "", Fail, fmt.Sprintf("cannot read %s from the %s: %v", v.ref, src, err))
		}
		return
	}
	digest, err := found.Image.Digest()
	if err != nil {
		for _, k := range kernels {
			v.row(k, CheckImage, "", Fail, fmt.Sprintf("cannot read %s from the %s: %v", v.ref, src, err))
		}
		return
	}
	roots := []string{}
	for _, k := range kernels {
		roots = append(roots, modulesRoot+"/"+k)
	}
	fw := ""
	if v.t.FirmwarePath != "" {
		fw = cleanPath(v.t.FirmwarePath)
		roots = append(roots, fw)
	}
	var report func(int64, bool)
	if progress != nil {
		report = progressLine(progress, v.ref, found.Image)
	}
	fs, err := readFS(found.Image, roots, report)
	if err != nil {
		for _, k := range kernels {
			v.row(k, CheckImage, "", Fail, fmt.Sprintf("%s (%s): %v", v.ref, digest, err))
		}
		return
	}
	for _, k := range kernels {
		var s Status
		var why string
		switch {
		case img.FollowsKernel:
			s, why = Pass, fmt.Sprintf("the node pulls %s (tag from the kernel version), %s", v.ref, digest)
		case strings.Contains(img.Reference, "@"):
			s, why = Warn, fmt.Sprintf("a digest: every kernel gets this same image, %s; a kernel upgrade needs a new image reference", v.ref)
		default:
			s, why = Warn, fmt.Sprintf("a fixed tag: every kernel gets this same image, %s (%s); a kernel upgrade needs a new tag", v.ref, digest)
		}
		if found.Note != "" {
			why += "; " + found.Note
		}
		v.row(k, CheckImage, "", s, why)
		v.kernel(k, fs, fw)
	}
}

// progressLine reports reading progress of a large image on w.
func progressLine(w io.Writer, ref string, img v1.Image) func(int64, bool) {
	var total int64
	if layers, err := img.Layers(); err == nil {
		for _, l := range layers {
			if n, err := l.Size(); err == nil {
				total += n
			}
		}
	}
	started := false
	return func(n int64, done bool) {
		switch {
		case !done:
			if !started {
				fmt.Fprintf(w, "verify: reading %s (%s compressed)\n", ref, mib(total))
				started = true
			}
			fmt.Fprintf(w, "verify: %s: %s of files read\n", ref, mib(n))
		case started:
			fmt.Fprintf(w, "verify: %s: done, %s of files read\n", ref, mib(n))
		}
	}
}

// kernel runs the checks of one kernel's tree.
func (v *checker) kernel(k string, fs *imageFS, fw string) {
	root := modulesRoot + "/" + k
	tree := fs.trees[root]
	re, hasRoot := fs.roots[root]
	switch {
	case hasRoot && re.typ != tar.TypeDir:
		v.row(k, CheckTree, "", Fail, fmt.Sprintf("/%s is not a directory (%s): the node copies it as it is", root, describeType(re)))
		v.files(k, fs, root, fw)
		return
	case !hasRoot && len(tree) == 0:
		var have []string
		for n := range fs.kernels {
			have = append(have, n)
		}
		sort.Strings(have)
		list := strings.Join(have, ", ")
		if list == "" {
			list = "nothing"
		}
		v.row(k, CheckTree, "", Fail, fmt.Sprintf("the image has no /%s for this kernel (/%s has: %s)", root, modulesRoot, list))
		v.files(k, fs, root, fw)
		return
	}
	byModule := map[string][]string{} // ModuleKey -> paths below root
	for rel, e := range tree {
		if e.typ == tar.TypeReg || e.typ == tar.TypeLink || e.typ == tar.TypeSymlink {
			if name, ok := nodescripts.ModuleOfFile(path.Base(rel)); ok {
				byModule[nodescripts.ModuleKey(name)] = append(byModule[nodescripts.ModuleKey(name)], rel)
			}
		}
	}
	for key, l := range byModule {
		sort.Strings(l)
		// A symlink to another file of the module (RHEL's weak-updates/)
		// is the same module, not a second one.
		var distinct []string
		seen := map[string]bool{}
		for _, rel := range l {
			_, at, _ := resolve(tree, rel)
			if !seen[at] {
				seen[at] = true
				distinct = append(distinct, rel)
			}
		}
		byModule[key] = distinct
	}
	v.row(k, CheckTree, "", Pass, fmt.Sprintf("/%s holds %s, %s", root, plural(countFiles(tree), "file"), plural(len(byModule), "module")))
	for _, m := range v.t.Modules {
		v.module(k, root, tree, byModule, m)
	}
	v.files(k, fs, root, fw)
}

func countFiles(tree map[string]entry) int {
	n := 0
	for _, e := range tree {
		if e.typ == tar.TypeReg || e.typ == tar.TypeLink {
			n++
		}
	}
	return n
}

// resolve follows symlinks inside tree from rel to a regular file entry.
func resolve(tree map[string]entry, rel string) (entry, string, bool) {
	for range 40 {
		e, ok := tree[rel]
		if !ok {
			return entry{}, rel, false
		}
		if e.typ != tar.TypeSymlink {
			return e, rel, true
		}
		if strings.HasPrefix(e.link, "/") {
			return e, rel, false
		}
		rel = path.Clean(path.Join(path.Dir(rel), e.link))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return e, rel, false
		}
	}
	return entry{}, rel, false
}

// module checks one module of the tree: its file, vermagic (and its
// dependencies' in the tree), dependencies and signature.
func (v *checker) module(k, root string, tree map[string]entry, byModule map[string][]string, m string) {
	files := byModule[nodescripts.ModuleKey(m)]
	if len(files) == 0 {
		var have []string
		for _, l := range byModule {
			have = append(have, path.Base(l[0]))
		}
		sort.Strings(have)
		list := strings.Join(have, ", ")
		if list == "" {
			list = "none"
		}
		v.row(k, CheckModule, m, Fail, fmt.Sprintf("no %s%s file under /%s (modules there: %s)", m, strings.Join(nodescripts.ModuleFileSuffixes, "|"+m), root, list))
		return
	}
	file := files[0]
	if len(files) > 1 {
		v.row(k, CheckModule, m, Warn, fmt.Sprintf("%d files stand for %s (%s): which one loads depends on the tree's depmod search order", len(files), m, strings.Join(files, ", ")))
	} else {
		v.row(k, CheckModule, m, Pass, "/"+root+"/"+file)
	}
	info, why := v.modinfo(tree, file)
	if info == nil {
		v.row(k, CheckVermagic, m, Fail, why)
		return
	}
	// The module and the dependencies found in the tree, transitively: modprobe loads them all.
	var bad []string
	var missing []string
	seen := map[string]bool{nodescripts.ModuleKey(m): true}
	queue := []string{}
	if info.Kernel() != k {
		bad = append(bad, fmt.Sprintf("%s is built for kernel %q, not %s (vermagic %q)", file, info.Kernel(), k, info.Vermagic))
	}
	queue = append(queue, info.Depends...)
	var fromHost []string
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		key := nodescripts.ModuleKey(d)
		if seen[key] {
			continue
		}
		seen[key] = true
		dfiles := byModule[key]
		if len(dfiles) == 0 {
			if v.host[key] {
				fromHost = append(fromHost, d)
			} else {
				missing = append(missing, d)
			}
			continue
		}
		di, why := v.modinfo(tree, dfiles[0])
		if di == nil {
			bad = append(bad, "dependency "+why)
			continue
		}
		if di.Kernel() != k {
			bad = append(bad, fmt.Sprintf("dependency %s is built for kernel %q, not %s", dfiles[0], di.Kernel(), k))
		}
		queue = append(queue, di.Depends...)
	}
	if len(bad) > 0 {
		v.row(k, CheckVermagic, m, Fail, strings.Join(bad, "; "))
	} else {
		v.row(k, CheckVermagic, m, Pass, info.Vermagic)
	}
	switch {
	case len(missing) > 0 && v.hostKnown:
		v.row(k, CheckDepends, m, Fail, fmt.Sprintf("needs %s, in neither the image's tree nor the host's modules", strings.Join(missing, ", ")))
	case len(missing) > 0:
		v.row(k, CheckDepends, m, Info, fmt.Sprintf("needs %s from the host (not in the image; give --host-modules to check)", strings.Join(missing, ", ")))
	case len(info.Depends) == 0:
		v.row(k, CheckDepends, m, Pass, "no dependencies")
	case len(fromHost) > 0:
		v.row(k, CheckDepends, m, Pass, fmt.Sprintf("in the tree or on the host (%s)", strings.Join(fromHost, ", ")))
	default:
		v.row(k, CheckDepends, m, Pass, "all in the tree: "+strings.Join(info.Depends, ", "))
	}
	if info.Signed {
		v.row(k, CheckSignature, m, Pass, "signed (a node with Secure Boot also needs the signing key enrolled)")
	} else {
		v.row(k, CheckSignature, m, Warn, "not signed: a node with Secure Boot refuses to load it")
	}
}

// modinfo is the parsed .modinfo of the module file at rel (following
// symlinks in the tree), or nil and why not.
func (v *checker) modinfo(tree map[string]entry, rel string) (*ModInfo, string) {
	e, at, ok := resolve(tree, rel)
	switch {
	case !ok:
		return nil, fmt.Sprintf("%s is a symlink that does not lead to a file in the tree (%s)", rel, at)
	case e.err != nil:
		return nil, fmt.Sprintf("%s: %v", at, e.err)
	case e.info == nil:
		return nil, fmt.Sprintf("%s: not read", at)
	case e.info.Vermagic == "":
		return nil, fmt.Sprintf("%s has no vermagic in its .modinfo", at)
	}
	return e.info, ""
}

// files runs the checks of everything the node copies for kernel k: the
// firmware directory, symlinks, special files and the size.
func (v *checker) files(k string, fs *imageFS, root, fw string) {
	roots := []string{root}
	if fw != "" {
		fe, hasRoot := fs.roots[fw]
		switch {
		case hasRoot && fe.typ == tar.TypeDir:
			n := countFiles(fs.trees[fw])
			if n == 0 {
				v.row(k, CheckFirmware, "", Warn, fmt.Sprintf("/%s holds no file", fw))
			} else {
				v.row(k, CheckFirmware, "", Pass, fmt.Sprintf("/%s holds %s", fw, plural(n, "file")))
			}
			roots = append(roots, fw)
		case hasRoot:
			v.row(k, CheckFirmware, "", Fail, fmt.Sprintf("firmwarePath /%s is not a directory in the image (%s)", fw, describeType(fe)))
		case len(fs.trees[fw]) > 0:
			v.row(k, CheckFirmware, "", Pass, fmt.Sprintf("/%s holds %s", fw, plural(countFiles(fs.trees[fw]), "file")))
			roots = append(roots, fw)
		default:
			v.row(k, CheckFirmware, "", Fail, fmt.Sprintf("firmwarePath /%s is not in the image", fw))
		}
	}
	var leaving, special []string
	var size int64
	for _, r := range roots {
		rels := make([]string, 0, len(fs.trees[r]))
		for rel := range fs.trees[r] {
			rels = append(rels, rel)
		}
		sort.Strings(rels)
		links := map[string]string{}
		for _, rel := range rels {
			if e := fs.trees[r][rel]; e.typ == tar.TypeSymlink {
				links[rel] = e.link
			}
		}
		for _, rel := range rels {
			e := fs.trees[r][rel]
			switch e.typ {
			case tar.TypeReg, tar.TypeLink:
				size += e.size
			case tar.TypeSymlink:
				if why := leaves(rel, e.link); why != "" {
					leaving = append(leaving, fmt.Sprintf("/%s/%s -> %s (%s)", r, rel, e.link, why))
				} else if nodescripts.ChainLeaves(links, rel) {
					leaving = append(leaving, fmt.Sprintf("/%s/%s -> %s (resolves outside the tree through another symlink)", r, rel, e.link))
				}
			case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
				special = append(special, fmt.Sprintf("/%s/%s (%s)", r, rel, describeType(e)))
			}
		}
	}
	if len(leaving) > 0 {
		v.row(k, CheckSymlinks, "", Fail, "the node extracts symlinks inside the tree only: "+list(leaving))
	} else {
		v.row(k, CheckSymlinks, "", Pass, "none leaves the tree")
	}
	if len(special) > 0 {
		v.row(k, CheckSpecial, "", Fail, "the node extracts regular files, directories and symlinks only: "+list(special))
	} else {
		v.row(k, CheckSpecial, "", Pass, "no device node or FIFO")
	}
	if size > v.maxBytes {
		v.row(k, CheckSize, "", Fail, fmt.Sprintf("%s, more than the node's bound of %s", mib(size), mib(v.maxBytes)))
	} else {
		v.row(k, CheckSize, "", Pass, fmt.Sprintf("%s of at most %s", mib(size), mib(v.maxBytes)))
	}
}

// leaves says why a symlink at rel (below its tree's root) pointing to
// target leaves the tree, or "": the node's own rule.
func leaves(rel, target string) string { return nodescripts.SymlinkLeaves(rel, target) }

func list(l []string) string {
	const max = 5
	if len(l) > max {
		return strings.Join(l[:max], ", ") + fmt.Sprintf(" and %d more", len(l)-max)
	}
	return strings.Join(l, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", (n+1023)>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func describeType(e entry) string {
	switch e.typ {
	case tar.TypeSymlink:
		return "a symlink to " + e.link
	case tar.TypeChar:
		return "a character device"
	case tar.TypeBlock:
		return "a block device"
	case tar.TypeFifo:
		return "a FIFO"
	case tar.TypeReg:
		return "a regular file"
	}
	return fmt.Sprintf("tar type %q", e.typ)
}

// ParseHostModules reads a list of the host's modules, one a line: a
// module name, a path (find /lib/modules/K -name '*.ko*'), or a
// modules.dep line ("kernel/net/x.ko.xz: deps"). Blank lines and lines
// starting with # are skipped.
func ParseHostModules(r io.Reader) ([]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f, _, _ := strings.Cut(line, ":")
		f = path.Base(strings.TrimSpace(f))
		if n, ok := nodescripts.ModuleOfFile(f); ok {
			f = n
		}
		out = append(out, f)
	}
	return out, nil
}
