package verify

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxModuleBytes bounds one decompressed module file read into memory to
// parse it (the largest real modules are around 100 MiB).
const maxModuleBytes = 512 << 20

// signatureMagic ends a signed module (the kernel's MODULE_SIG_STRING).
const signatureMagic = "~Module signature appended~\n"

// ModInfo is what verify reads from a module's ELF .modinfo section.
type ModInfo struct {
	Vermagic string   // the whole vermagic string; its first word is the kernel
	Depends  []string // module names, as in "depends="
	Name     string   // "name=", empty on old kernels
	Signed   bool     // a signature is appended to the object
}

// Kernel is the kernel version the module was built for.
func (m ModInfo) Kernel() string {
	k, _, _ := strings.Cut(m.Vermagic, " ")
	return k
}

// readModInfo decompresses (by the file name's ending) and parses a module.
func readModInfo(file string, r io.Reader) (ModInfo, error) {
	var err error
	switch {
	case strings.HasSuffix(file, ".xz"):
		if r, err = xz.NewReader(r); err != nil {
			return ModInfo{}, fmt.Errorf("not xz-compressed: %w", err)
		}
	case strings.HasSuffix(file, ".zst"):
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return ModInfo{}, fmt.Errorf("not zstd-compressed: %w", err)
		}
		defer d.Close()
		r = d
	case strings.HasSuffix(file, ".gz"):
		g, err := gzip.NewReader(r)
		if err != nil {
			return ModInfo{}, fmt.Errorf("not gzip-compressed: %w", err)
		}
		r = g
	}
	b, err := io.ReadAll(io.LimitReader(r, maxModuleBytes+1))
	if err != nil {
		return ModInfo{}, fmt.Errorf("cannot decompress: %w", err)
	}
	if len(b) > maxModuleBytes {
		return ModInfo{}, fmt.Errorf("larger than %d MiB once decompressed", maxModuleBytes>>20)
	}
	return parseModInfo(b)
}

// parseModInfo reads the .modinfo section of an ELF kernel module: NUL
// separated "key=value" strings.
func parseModInfo(b []byte) (ModInfo, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return ModInfo{}, fmt.Errorf("not an ELF object: %w", err)
	}
	defer f.Close()
	if f.Type != elf.ET_REL {
		return ModInfo{}, fmt.Errorf("an ELF %s, not a relocatable object (a kernel module)", f.Type)
	}
	s := f.Section(".modinfo")
	if s == nil {
		return ModInfo{}, errors.New("has no .modinfo section: not a kernel module")
	}
	data, err := s.Data()
	if err != nil {
		return ModInfo{}, fmt.Errorf("cannot read its .modinfo section: %w", err)
	}
	m := ModInfo{Signed: bytes.HasSuffix(b, []byte(signatureMagic))}
	for _, kv := range strings.Split(string(data), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "vermagic":
			m.Vermagic = v
		case "name":
			m.Name = v
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d != "" {
					m.Depends = append(m.Depends, d)
				}
			}
		}
	}
	return m, nil
}
