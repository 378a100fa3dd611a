// The VM end-to-end harness is a module of its own, so that its tools and
// their dependencies stay out of the product's module.
module github.com/day1kmod/day1kmod/test/e2e/vm

go 1.26.8

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)

replace github.com/day1kmod/day1kmod => ../../..
