package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Kernels of the tests: a RHEL one, an older one, and a real-time one
// (whose tag maps '+' to '_').
const (
	kEL96 = "5.14.0-570.12.1.el9_6.x86_64"
	kEL94 = "5.14.0-427.13.1.el9_4.x86_64"
	kRT   = "5.14.0-427.13.1.el9_4.x86_64+rt"
)

// elfModule is a minimal ELF64 relocatable object whose .modinfo section
// holds the given key=value strings, as a kernel module's does; signed
// appends a signature trailer as sign-file does.
func elfModule(t *testing.T, signed bool, modinfo ...string) []byte {
	t.Helper()
	info := []byte(strings.Join(modinfo, "\x00") + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := uint64(ehsize)
	strOff := infoOff + uint64(len(info))
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7
	var b bytes.Buffer
	h := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shOff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	must(t, binary.Write(&b, binary.LittleEndian, h))
	b.Write(info)
	b.Write(shstr)
	b.Write(make([]byte, shOff-uint64(b.Len())))
	for _, s := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: infoOff, Size: uint64(len(info)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstr)), Addralign: 1},
	} {
		must(t, binary.Write(&b, binary.LittleEndian, s))
	}
	if signed {
		b.WriteString("fake PKCS#7 signature")
		b.Write(make([]byte, 12)) // struct module_signature
		b.WriteString(signatureMagic)
	}
	return b.Bytes()
}

// module is a module file built for kernel k, compressed by the ending of
// name (.ko, .ko.xz, .ko.zst, .ko.gz).
func module(t *testing.T, name, k string, signed bool, depends string) file {
	t.Helper()
	base := name[strings.LastIndex(name, "/")+1:]
	mod := base[:strings.Index(base, ".ko")]
	data := elfModule(t, signed, "license=GPL", "depends="+depends, "name="+mod, "vermagic="+k+" SMP mod_unload modversions ")
	var b bytes.Buffer
	var w io.WriteCloser
	switch {
	case strings.HasSuffix(name, ".xz"):
		xw, err := xz.NewWriter(&b)
		must(t, err)
		w = xw
	case strings.HasSuffix(name, ".zst"):
		zw, err := zstd.NewWriter(&b)
		must(t, err)
		w = zw
	case strings.HasSuffix(name, ".gz"):
		w = gzip.NewWriter(&b)
	default:
		return file{name: name, data: data}
	}
	_, err := w.Write(data)
	must(t, err)
	must(t, w.Close())
	return file{name: name, data: b.Bytes()}
}

// file is one entry of a layer: a regular file unless typ says otherwise.
type file struct {
	name string
	typ  byte
	data []byte
	link string
	size int64 // for a regular file without data: this many zero bytes
}

func dir(name string) file             { return file{name: name, typ: tar.TypeDir} }
func symlink(name, target string) file { return file{name: name, typ: tar.TypeSymlink, link: target} }
func whiteout(name string) file {
	i := strings.LastIndex(name, "/")
	return file{name: name[:i+1] + ".wh." + name[i+1:]}
}

// under puts files below /opt/lib/modules/k/.
func under(k string, files ...file) []file {
	out := []file{dir("opt/lib/modules/" + k)}
	for _, f := range files {
		f.name = "opt/lib/modules/" + k + "/" + f.name
		out = append(out, f)
	}
	return out
}

// layer is a layer of files, compressed with c.
func layer(t *testing.T, c compression.Compression, files ...file) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Linkname: f.link, Mode: 0o644}
		switch f.typ {
		case 0, tar.TypeReg:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
			if f.data == nil {
				h.Size = f.size
			}
		case tar.TypeDir:
			h.Mode = 0o755
		}
		must(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			if f.data != nil {
				_, err := tw.Write(f.data)
				must(t, err)
			} else {
				_, err := io.CopyN(tw, zeros{}, f.size)
				must(t, err)
			}
		}
	}
	must(t, tw.Close())
	raw := b.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithCompression(c))
	must(t, err)
	return l
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// image stacks layers of files (gzip-compressed), bottom first.
func image(t *testing.T, layers ...[]file) v1.Image {
	t.Helper()
	img := empty.Image
	for _, fs := range layers {
		var err error
		img, err = mutate.AppendLayers(img, layer(t, compression.GZip, fs...))
		must(t, err)
	}
	return img
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
