package function

// BuildVersion is the release this binary was built from (Version is the
// API version of the Day1KernelModule). make sets it at link time
// (-ldflags "-X github.com/day1kmod/day1kmod/function.BuildVersion=v0.1.0",
// from `git describe`); a plain `go build` leaves "dev".
var BuildVersion = "dev"

// An empty -X value (VERSION= on a make command line) still names a build.
func init() {
	if BuildVersion == "" {
		BuildVersion = "dev"
	}
}
