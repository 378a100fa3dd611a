# The day1kmod KRM function image: a static, stripped binary on an empty
# base, run as a non-root user, with no shell and no libc.
#   docker build -t quay.io/acme/day1kmod:v0.1.0 .     (or: make image)
# Use it as a kustomize container generator, in a kpt Kptfile (image:), or
# copy /usr/local/bin/day1kmod from it into another image (Argo CD).
ARG GO_IMAGE=golang:1.26.8

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/day1kmod .

# The function reads stdin and writes stdout: it needs no files, no network
# and no certificates, so nothing but the binary goes in.
FROM scratch
COPY --from=build /out/day1kmod /usr/local/bin/day1kmod
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/day1kmod"]
