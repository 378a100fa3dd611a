// Command mkimage packs a directory into a one-layer linux/amd64 container
// image and saves it as a tarball (docker save format) under a tag: the
// kernel module images of the VM end-to-end test. The layer is deterministic
// (sorted entries, root-owned, zero times).
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	dir := flag.String("dir", "", "directory whose content becomes the image's root")
	ref := flag.String("tag", "", "tag to save the image under, e.g. 127.0.0.1:5000/e2e/dummy:6.1.0-50-amd64")
	out := flag.String("out", "", "tarball to write")
	flag.Parse()
	log.SetFlags(0)
	if *dir == "" || *ref == "" || *out == "" {
		log.Fatal("usage: mkimage -dir DIR -tag REF -out FILE")
	}
	tag, err := name.NewTag(*ref, name.Insecure)
	if err != nil {
		log.Fatal(err)
	}
	layerTar, err := tarDir(*dir)
	if err != nil {
		log.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		log.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		OS:           "linux",
		Architecture: "amd64",
		RootFS:       v1.RootFS{Type: "layers"},
		Config:       v1.Config{Labels: map[string]string{"dev.day1kmod.e2e": "kernel-module-image"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// ConfigFile replaced the diff IDs: append the layer again on top of it.
	img, err = mutate.AppendLayers(mustBase(img), layer)
	if err != nil {
		log.Fatal(err)
	}
	if err := tarball.WriteToFile(*out, tag, img); err != nil {
		log.Fatal(err)
	}
}

// mustBase returns img's config without layers.
func mustBase(img v1.Image) v1.Image {
	cfg, err := img.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs = nil
	cfg.History = nil
	base, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		log.Fatal(err)
	}
	return base
}

// tarDir returns a tar of dir's content, deterministic.
func tarDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: rel, Mode: int64(info.Mode().Perm()), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch {
		case d.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
		case info.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		case info.Mode()&fs.ModeSymlink != 0:
			// Kept as a link, as a user's image may have one (hostile or not).
			if hdr.Linkname, err = os.Readlink(path); err != nil {
				return err
			}
			hdr.Typeflag = tar.TypeSymlink
		default:
			return nil
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			content, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			_, err = tw.Write(content)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
