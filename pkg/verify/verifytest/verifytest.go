// Package verifytest builds kernel module images for the tests of
// day1kmod verify: small ELF objects with a .modinfo section, compressed as
// kmod reads them, in layers of go-containerregistry images.
package verifytest

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
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Kernels of the tests: a RHEL one, an older one, a real-time one (whose
// tag maps '+' to '_') and a 64k-page aarch64 one.
const (
	EL96  = "5.14.0-570.12.1.el9_6.x86_64"
	EL94  = "5.14.0-427.13.1.el9_4.x86_64"
	RT    = "5.14.0-427.13.1.el9_4.x86_64+rt"
	ARM64 = "5.14.0-570.12.1.el9_6.aarch64+64k"
)

// signatureMagic ends a signed module (the kernel's MODULE_SIG_STRING).
const signatureMagic = "~Module signature appended~\n"

// ELFModule is a minimal ELF64 relocatable object whose .modinfo section
// holds the given key=value strings, as a kernel module's does; signed
// appends a signature trailer as sign-File does.
func ELFModule(t testing.TB, signed bool, modinfo ...string) []byte {
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
	Must(t, binary.Write(&b, binary.LittleEndian, h))
	b.Write(info)
	b.Write(shstr)
	b.Write(make([]byte, shOff-uint64(b.Len())))
	for _, s := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: infoOff, Size: uint64(len(info)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstr)), Addralign: 1},
	} {
		Must(t, binary.Write(&b, binary.LittleEndian, s))
	}
	if signed {
		b.WriteString("fake PKCS#7 signature")
		b.Write(make([]byte, 12)) // struct module_signature
		b.WriteString(signatureMagic)
	}
	return b.Bytes()
}

// module is a module File built for kernel k, compressed by the ending of
// name (.ko, .ko.xz, .ko.zst, .ko.gz).
func Module(t testing.TB, name, k string, signed bool, depends string) File {
	t.Helper()
	base := name[strings.LastIndex(name, "/")+1:]
	mod := base[:strings.Index(base, ".ko")]
	data := ELFModule(t, signed, "license=GPL", "depends="+depends, "name="+mod, "vermagic="+k+" SMP mod_unload modversions ")
	var b bytes.Buffer
	var w io.WriteCloser
	switch {
	case strings.HasSuffix(name, ".xz"):
		xw, err := xz.NewWriter(&b)
		Must(t, err)
		w = xw
	case strings.HasSuffix(name, ".zst"):
		zw, err := zstd.NewWriter(&b)
		Must(t, err)
		w = zw
	case strings.HasSuffix(name, ".gz"):
		w = gzip.NewWriter(&b)
	default:
		return File{Name: name, Data: data}
	}
	_, err := w.Write(data)
	Must(t, err)
	Must(t, w.Close())
	return File{Name: name, Data: b.Bytes()}
}

// File is one entry of a layer: a regular File unless typ says otherwise.
type File struct {
	Name string
	Typ  byte
	Data []byte
	Link string
	Size int64 // for a regular file without data: this many zero bytes
}

func Dir(name string) File             { return File{Name: name, Typ: tar.TypeDir} }
func Symlink(name, target string) File { return File{Name: name, Typ: tar.TypeSymlink, Link: target} }
func Whiteout(name string) File {
	i := strings.LastIndex(name, "/")
	return File{Name: name[:i+1] + ".wh." + name[i+1:]}
}

// under puts files below /opt/lib/modules/k/.
func Under(k string, files ...File) []File {
	out := []File{Dir("opt/lib/modules/" + k)}
	for _, f := range files {
		f.Name = "opt/lib/modules/" + k + "/" + f.Name
		out = append(out, f)
	}
	return out
}

// layer is a layer of files, compressed with c.
func Layer(t testing.TB, c compression.Compression, files ...File) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Typeflag: f.Typ, Linkname: f.Link, Mode: 0o644}
		switch f.Typ {
		case 0, tar.TypeReg:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Data))
			if f.Data == nil {
				h.Size = f.Size
			}
		case tar.TypeDir:
			h.Mode = 0o755
		}
		Must(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			if f.Data != nil {
				_, err := tw.Write(f.Data)
				Must(t, err)
			} else {
				_, err := io.CopyN(tw, zeros{}, f.Size)
				Must(t, err)
			}
		}
	}
	Must(t, tw.Close())
	raw := b.Bytes()
	opts := []tarball.LayerOption{tarball.WithCompression(c)}
	if c == compression.ZStd {
		opts = append(opts, tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, opts...)
	Must(t, err)
	return l
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// Image stacks layers of files (gzip-compressed), bottom first.
func Image(t testing.TB, layers ...[]File) v1.Image {
	t.Helper()
	return ImageOf(t, compression.GZip, layers...)
}

// ImageOf stacks layers of files compressed with c, bottom first.
func ImageOf(t testing.TB, c compression.Compression, layers ...[]File) v1.Image {
	t.Helper()
	img := empty.Image
	for _, fs := range layers {
		var err error
		img, err = mutate.AppendLayers(img, Layer(t, c, fs...))
		Must(t, err)
	}
	return img
}

func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
