package verify

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// modulesRoot is where an image holds one tree per kernel (without the
// leading slash, as in a layer).
const modulesRoot = "opt/lib/modules"

// entry is one file of a tree the node would extract.
type entry struct {
	typ  byte   // tar.TypeReg, TypeDir, TypeSymlink, ...
	size int64  // regular files
	link string // symlink or hard link target
	info *ModInfo
	err  error // reading a module file failed
}

// imageFS is what verify keeps of an image's flattened file system: the
// entries under the trees the node extracts, nothing else.
type imageFS struct {
	kernels map[string]bool             // names directly under /opt/lib/modules
	trees   map[string]map[string]entry // tree root ("opt/lib/modules/K", firmware dir) -> path below it -> entry
	roots   map[string]entry            // tree root -> its own entry, when present
}

// readFS streams the image's flattened file system (mutate.Extract applies
// the layers and their whiteouts) once, keeping the entries below roots and
// reading the module files among them. Progress goes to progress when the
// image is large.
func readFS(img v1.Image, roots []string, progress func(read int64, done bool)) (*imageFS, error) {
	fs := &imageFS{kernels: map[string]bool{}, trees: map[string]map[string]entry{}, roots: map[string]entry{}}
	for _, r := range roots {
		fs.trees[r] = map[string]entry{}
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	cr := &countingReader{r: rc, progress: progress}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the image's files: %w", err)
		}
		p := cleanPath(h.Name)
		if dir, base := path.Split(p); strings.TrimSuffix(dir, "/") == modulesRoot && base != "" {
			fs.kernels[base] = true
		}
		for _, root := range roots {
			if p == root {
				fs.roots[root] = entry{typ: h.Typeflag, link: h.Linkname}
				continue
			}
			rel, ok := strings.CutPrefix(p, root+"/")
			if !ok {
				continue
			}
			e := entry{typ: h.Typeflag, link: h.Linkname}
			switch h.Typeflag {
			case tar.TypeReg:
				e.size = h.Size
				if _, isModule := nodescripts.ModuleOfFile(path.Base(rel)); isModule && strings.HasPrefix(root, modulesRoot+"/") {
					info, err := readModInfo(rel, tr)
					if err != nil {
						e.err = err
					} else {
						e.info = &info
					}
				}
			case tar.TypeLink:
				// A hard link is the file it names (mutate.Extract writes
				// paths without a leading slash, like ours).
				if t, ok := fs.trees[root][strings.TrimPrefix(cleanPath(h.Linkname), root+"/")]; ok {
					e = t
				}
			}
			fs.trees[root][rel] = e
		}
	}
	if progress != nil {
		progress(cr.n, true)
	}
	return fs, nil
}

// cleanPath turns a layer path ("./opt/x", "/opt/x/") into "opt/x".
func cleanPath(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

// countingReader reports every progressStep bytes read.
type countingReader struct {
	r        io.Reader
	n, next  int64
	progress func(int64, bool)
}

// progressStep is how often a large image's reading is reported (a
// variable for the tests).
var progressStep int64 = 64 << 20

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.progress != nil && c.n >= c.next+progressStep {
		c.next = c.n
		c.progress(c.n, false)
	}
	return n, err
}
