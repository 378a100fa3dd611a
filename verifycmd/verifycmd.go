// Package verifycmd is `day1kmod verify`: the command line of pkg/verify.
package verifycmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/day1kmod/day1kmod/function"
	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
	"github.com/day1kmod/day1kmod/pkg/verify"
)

// Usage is the text of `day1kmod verify --help`.
var Usage = `day1kmod verify - check a kernel module image against the kernels it must
serve, with the node's rules, before any node reboots for it.

USAGE
  day1kmod verify -f day1kmod.yaml --kernel K [--kernel K ...] [flags]
  day1kmod verify --image REF --module NAME --kernel K [flags]

It reads the image without running it (from its registry, or from a local
archive with --from) and checks, for each kernel K (a node's uname -r):

  image          the reference the node pulls for K (a tagless image or
                 ${KERNEL_FULL_VERSION} takes K as tag, '+' mapped to '_';
                 a fixed tag or a digest is the same image for every kernel:
                 a warning) and that it can be read
  tree           /opt/lib/modules/K/ is in the image
  module         NAME.ko, .ko.xz, .ko.zst or .ko.gz is in it, in any
                 sub-directory ('-' and '_' alike); a warning when several
  vermagic       the module and its dependencies in the tree are built for K
  depends        each dependency is in the tree or on the host (--host-modules;
                 without it, one the image lacks is reported as info)
  signature      the module is signed (report only)
  firmware       the firmwarePath directory is in the image (when set)
  symlinks       no symlink leaves its tree (absolute ones do: the tree moves)
  special-files  no device node or FIFO
  size           the trees fit the node's bound (` + fmt.Sprint(nodescripts.MaxTreeBytes>>20) + ` MiB)

FLAGS
  -f FILE|DIR         the Day1KernelModule file the function renders ("-" for
                      stdin; a directory: its .yaml files, as a kpt package);
                      repeatable; every Day1KernelModule in them is checked,
                      after the function's own validation
  --name N            only the Day1KernelModule named N of the file
  --image REF         instead of -f: the image, as kernelModuleImage takes it
  --module NAME       the module to look for (repeatable); with -f, further
                      modules to check beside kernelModuleName
  --firmware-path DIR with --image: the firmware directory inside the image
  --kernel K          a kernel version, as uname -r prints it (repeatable)
  --kernels-from FILE kernel versions, one a line (# comments)
  --from PATH         read the image from a local OCI layout directory or a
                      docker-archive tarball (docker save, podman save)
                      instead of its registry; the image named like the
                      reference the node pulls is used (or, under another
                      repository, the one with its tag)
  --authfile FILE     registry credentials: a docker or podman auth file, such
                      as the cluster pull secret; default: ~/.docker/config.json,
                      $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json
  --insecure          allow a plain-HTTP registry
  --platform OS/ARCH  the image platform; default: the kernel's architecture
                      (…x86_64: linux/amd64, …aarch64: linux/arm64)
  --host-modules FILE the modules of the nodes' kernel, one a line: names,
                      paths (find /lib/modules/K -name '*.ko*') or modules.dep
  -o table|json       output format (default table)

  The proxy comes from the environment (HTTPS_PROXY, NO_PROXY). Progress of
  large images goes to stderr.

OUTPUT
  table: one line per kernel and check, with the reason, and a verdict.
  json:  {"ok": BOOL, "rows": [{"name", "kernel", "reference", "check",
         "module" (for module checks), "status": pass|warn|fail|info,
         "reason"}]}

EXIT STATUS
  0 every kernel passes (warnings and info included), 1 a check fails,
  2 a usage error or an invalid Day1KernelModule file.

EXAMPLES
  # Before committing the Day1KernelModule: every kernel of the pool.
  day1kmod verify -f day1kmod.yaml --kernel 5.14.0-570.12.1.el9_6.x86_64 \
      --kernel 5.14.0-570.12.1.el9_6.x86_64+rt --authfile pull-secret.json

  # The kernel versions of a cluster's nodes, from a file:
  oc get nodes -o jsonpath='{range .items[*]}{.status.nodeInfo.kernelVersion}{"\n"}{end}' \
      | sort -u > kernels.txt
  day1kmod verify -f day1kmod.yaml --kernels-from kernels.txt -o json

  # An image built locally and saved, before it is pushed:
  podman save -o ice.tar quay.io/acme/ice-kmod:5.14.0-570.12.1.el9_6.x86_64
  day1kmod verify --image quay.io/acme/ice-kmod --module ice \
      --kernel 5.14.0-570.12.1.el9_6.x86_64 --from ice.tar
`

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// cliOptions are the flags' values.
type cliOptions struct {
	name, image, firmware, kernelsFrom, from, authfile, platform, hostModules, output string
	insecure                                                                          bool
	files, modules, kernels                                                           list
}

// flags is the flag set of the command; Usage documents each flag.
func (o *cliOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("day1kmod verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&o.files, "f", "")
	fs.StringVar(&o.name, "name", "", "")
	fs.StringVar(&o.image, "image", "", "")
	fs.Var(&o.modules, "module", "")
	fs.StringVar(&o.firmware, "firmware-path", "", "")
	fs.Var(&o.kernels, "kernel", "")
	fs.StringVar(&o.kernelsFrom, "kernels-from", "", "")
	fs.StringVar(&o.from, "from", "", "")
	fs.StringVar(&o.authfile, "authfile", "", "")
	fs.BoolVar(&o.insecure, "insecure", false, "")
	fs.StringVar(&o.platform, "platform", "", "")
	fs.StringVar(&o.hostModules, "host-modules", "", "")
	fs.StringVar(&o.output, "o", "table", "")
	return fs
}

// Main runs `day1kmod verify ARGS`; it returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o cliOptions
	fs := o.flags()
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "day1kmod verify: "+format+"; see day1kmod verify --help\n", a...)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, Usage)
			return 0
		}
		return usage("%v", err)
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if o.output != "table" && o.output != "json" {
		return usage("-o %q: want table or json", o.output)
	}

	// What to check.
	var targets []verify.Target
	switch {
	case len(o.files) > 0 && (o.image != "" || o.firmware != ""):
		return usage("-f and --image (or --firmware-path) exclude each other: the file names the image")
	case len(o.files) > 0:
		configs, err := readConfigs(o.files, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "day1kmod verify: %v\n", err)
			return 2
		}
		for _, c := range configs {
			if o.name != "" && c.Name != o.name {
				continue
			}
			t := verify.TargetOf(c)
			t.Modules = append(t.Modules, o.modules...)
			targets = append(targets, t)
		}
		if len(targets) == 0 {
			return usage("-f %s holds no Day1KernelModule named %q", o.files, o.name)
		}
	case o.image != "":
		if len(o.modules) == 0 {
			return usage("--image needs --module NAME")
		}
		if o.name != "" {
			return usage("--name selects a Day1KernelModule of the -f file")
		}
		// The function's rules for the fields these flags stand for.
		var c machineconfig.Config
		for _, m := range o.modules {
			c = machineconfig.Config{Name: "verify", MachineConfigPool: "worker", KernelModuleImage: o.image, KernelModuleName: m, FirmwarePath: o.firmware}
			if errs := c.Validate(nil, nil); len(errs) > 0 {
				return usage("%v", errs.ToAggregate())
			}
		}
		t := verify.TargetOf(c)
		t.Name, t.Modules = o.modules[0], o.modules
		targets = append(targets, t)
	default:
		return usage("give -f day1kmod.yaml, or --image REF --module NAME")
	}

	// Which kernels.
	if o.kernelsFrom != "" {
		ks, err := readLines(o.kernelsFrom)
		if err != nil {
			return usage("--kernels-from: %v", err)
		}
		o.kernels = append(o.kernels, ks...)
	}
	if len(o.kernels) == 0 {
		return usage("give the kernels to check: --kernel K (uname -r of the nodes) or --kernels-from FILE")
	}
	for _, k := range o.kernels {
		if k == "" || strings.ContainsAny(k, "/ \t") || strings.HasPrefix(k, ".") {
			return usage("--kernel %q is not a kernel version (uname -r)", k)
		}
	}
	opts := verify.Options{Kernels: dedupe(o.kernels), Progress: stderr}
	if o.platform != "" {
		p, err := v1.ParsePlatform(o.platform)
		if err == nil && (p.OS == "" || p.Architecture == "") {
			err = fmt.Errorf("%q: want OS/ARCH, e.g. linux/arm64", o.platform)
		}
		if err != nil {
			return usage("--platform: %v", err)
		}
		opts.Platform = p
	}
	if o.hostModules != "" {
		f, err := os.Open(o.hostModules)
		if err != nil {
			return usage("--host-modules: %v", err)
		}
		opts.HostModules, err = verify.ParseHostModules(f)
		f.Close()
		if err != nil {
			return usage("--host-modules: %v", err)
		}
	}

	// Where images come from.
	var src verify.Source
	if o.from != "" {
		if o.authfile != "" || o.insecure {
			return usage("--from reads a local archive: --authfile and --insecure are for registries")
		}
		s, err := verify.Open(o.from)
		if err != nil {
			return usage("--from: %v", err)
		}
		src = s
	} else {
		reg := &verify.Registry{Insecure: o.insecure}
		if o.authfile != "" {
			kc, err := verify.AuthFile(o.authfile)
			if err != nil {
				return usage("--authfile: %v", err)
			}
			reg.Keychain = kc
		}
		src = reg
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep := verify.Report{OK: true}
	for _, t := range targets {
		rep.Merge(verify.Verify(ctx, src, t, opts))
	}
	var err error
	if o.output == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "day1kmod verify: %v\n", err)
		return 1
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// readConfigs reads the Day1KernelModules of files: YAML files, "-" for
// stdin, or directories (a kpt package, a kustomization) whose .yaml and
// .yml files are read, those holding no Day1KernelModule skipped. One name
// twice is an error, as in a kpt package.
func readConfigs(files []string, stdin io.Reader) ([]machineconfig.Config, error) {
	var out []machineconfig.Config
	where := map[string]string{}
	read := func(p string, r io.Reader, mustHold bool) error {
		cs, err := function.ReadConfigs(r)
		if errors.Is(err, function.ErrNoDay1KernelModule) && !mustHold {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, c := range cs {
			if w, dup := where[c.Name]; dup {
				return fmt.Errorf("%s: another Day1KernelModule named %s is in %s: node paths and unit names derive from the name, so it must be unique", p, c.Name, w)
			}
			where[c.Name] = p
		}
		out = append(out, cs...)
		return nil
	}
	for _, f := range files {
		if f == "-" {
			if err := read("stdin", stdin, true); err != nil {
				return nil, err
			}
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if err := read(f, bytes.NewReader(b), true); err != nil {
				return nil, err
			}
			continue
		}
		n := len(out)
		err = filepath.WalkDir(f, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && p != f && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			case d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")):
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return read(p, bytes.NewReader(b), false)
		})
		if err != nil {
			return nil, err
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no YAML file in it holds a %s", f, function.Kind)
		}
	}
	return out, nil
}

// readLines reads the non-empty, non-comment lines of a file.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
