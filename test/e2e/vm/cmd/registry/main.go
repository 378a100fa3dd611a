// Command registry is the container registry of the VM end-to-end test. It
// runs inside the guest, on the guest's own 127.0.0.1: go-containerregistry's
// in-memory registry, preloaded with the image tarballs in a directory (each
// pushed under the tag it was saved with). It tells systemd it is ready
// (Type=notify) only once every image is in, so units ordered after it can
// pull straight away.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5000", "address to serve on")
	images := flag.String("images", "/var/lib/e2e/images", "directory of image tarballs (docker save format)")
	flag.Parse()
	log.SetFlags(0)

	reg := registry.New(registry.Logger(log.New(os.Stderr, "registry: ", 0)))
	tarballs, err := filepath.Glob(filepath.Join(*images, "*.tar"))
	if err != nil {
		log.Fatal(err)
	}
	for _, path := range tarballs {
		if err := preload(reg, path); err != nil {
			log.Fatalf("preload %s: %v", path, err)
		}
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	notifyReady()
	log.Printf("serving %d images on %s", len(tarballs), *listen)
	log.Fatal(http.Serve(l, reg))
}

// preload pushes the image saved in path to reg, in process.
func preload(reg http.Handler, path string) error {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return err
	}
	if len(m) != 1 || len(m[0].RepoTags) != 1 {
		return fmt.Errorf("want one image with one tag")
	}
	tag, err := name.NewTag(m[0].RepoTags[0], name.Insecure)
	if err != nil {
		return err
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		return err
	}
	repo := tag.RepositoryStr()
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, layer := range layers {
		digest, err := layer.Digest()
		if err != nil {
			return err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return err
		}
		blob, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := pushBlob(reg, repo, digest, blob); err != nil {
			return err
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := pushBlob(reg, repo, cfgName, cfg); err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	req := httptest.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+tag.TagStr(), bytes.NewReader(manifest))
	req.Header.Set("Content-Type", string(mt))
	if err := serve(reg, req, http.StatusCreated); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	log.Printf("preloaded %s", tag)
	return nil
}

// pushBlob uploads blob in one request (POST with ?digest=).
func pushBlob(reg http.Handler, repo string, digest v1.Hash, blob []byte) error {
	req := httptest.NewRequest(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest.String(), bytes.NewReader(blob))
	if err := serve(reg, req, http.StatusCreated); err != nil {
		return fmt.Errorf("blob %s: %w", digest, err)
	}
	return nil
}

func serve(h http.Handler, req *http.Request, want int) error {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		return fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	return nil
}

// notifyReady implements sd_notify("READY=1") for Type=notify units.
func notifyReady() {
	socket := os.Getenv("NOTIFY_SOCKET")
	if socket == "" {
		return
	}
	conn, err := net.Dial("unixgram", socket)
	if err != nil {
		log.Printf("sd_notify: %v", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("READY=1")); err != nil {
		log.Printf("sd_notify: %v", err)
	}
}
