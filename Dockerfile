# The day1kmod KRM function image, built where a registry is reachable:
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v0.1.0 -t quay.io/acme/day1kmod:v0.1.0 --push .
# `make image` builds the same image offline from the binaries built on the
# host (Dockerfile.prebuilt); the final stages of both files are the same.
# Use it as a kustomize container generator, in a kpt Kptfile (image:), or
# copy /usr/local/bin/day1kmod from it into another image (Argo CD).
ARG GO_IMAGE=golang:1.26.8

# The builder runs on the build machine's own platform and cross-compiles
# (no emulation) with the Makefile's build command.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS TARGETARCH VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build GOOS=${TARGETOS} GOARCH=${TARGETARCH} VERSION=${VERSION} BIN=/out

# The function reads stdin and writes stdout: it needs no files, no network
# and no certificates, so nothing but the binary goes in: no shell, no libc.
FROM scratch
COPY --from=build /out/day1kmod /usr/local/bin/day1kmod
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/day1kmod"]
