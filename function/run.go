package function

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Usage is the text of --help (also what `kpt fn doc` shows).
const Usage = `day1kmod - a KRM function that generates the OpenShift MachineConfig which
loads an out-of-tree kernel module at Day 1 (before the network starts), and,
when asked, the MachineConfigPool of a custom pool.

USAGE
  day1kmod < resourcelist.yaml > out.yaml     (what kustomize and kpt run)
  day1kmod --help
  day1kmod verify --help                      (check an image before rollout)
  day1kmod --version

It reads a ResourceList (KRM Functions Specification) on stdin and writes it
on stdout with the generated items added. It takes no arguments.

CONFIGURATION (functionConfig, or items of this kind in a kpt package)

  apiVersion: day1kmod.dev/v1alpha1
  kind: Day1KernelModule
  metadata:
    name: ice                        # N: node paths and units derive from it
    annotations:
      config.kubernetes.io/local-config: "true"
  spec:
    kernelModuleName: ice            # required: the out-of-tree module to load
    kernelModuleImage: quay.io/acme/ice-kmod
                                     # required; no tag = the node's kernel version,
                                     # ${KERNEL_FULL_VERSION} in the tag is replaced
                                     # by it; a fixed tag or digest gets a warning
    machineConfigPool: worker        # required: the pool (role label) of the MachineConfig
    machineConfigName: 99-worker-ice # default: 99-<pool>-<metadata.name>
    inTreeModulesToRemove: [ice]     # default: the additional modules, last
                                     # first, then kernelModuleName; [] = none
    moduleParameters: ["debug=1"]    # optional, passed to modprobe
    additionalModules:               # optional: more modules of the same image,
    - name: irdma                    #   loaded in order after kernelModuleName;
      parameters: ["roce_ena=1"]     #   one failing unloads them all and the
                                     #   in-tree modules are put back
    firmwarePath: /firmware          # optional, directory inside the image
    maxKubeletDelay: 5m              # default 5m, 30s..1h: how long a node's boot may
                                     # hold the kubelet while it fetches the module
                                     # (install, kernel upgrade, new image); past it
                                     # the kubelet starts with the in-tree driver and
                                     # the fetch goes on in the background
    rebootPolicy: BeforeKubelet      # what a finished fetch may do:
                                     #  BeforeKubelet (default): reboot only while the
                                     #   kubelet is held, so no workload runs; a late
                                     #   fetch is staged and loaded at the next reboot
                                     #   (the MCD's next drained one)
                                     #  Always: a late fetch reboots the node too. RISK:
                                     #   its pods are killed without a drain, and a
                                     #   node the MCD is updating may go Degraded
                                     #  Never: day1kmod never reboots; the module is
                                     #   loaded at the next reboot someone else makes
    maxShutdownDelay: 5m             # default 5m, 30s..20m: how long a node's
                                     # shutdown (the MCD's reboot for an update, any
                                     # reboot) may wait while day1kmod fetches what
                                     # the next boot needs (a staged kernel, a new
                                     # image), so that boot loads the module without
                                     # a reboot of day1kmod's own; what does not
                                     # finish is fetched by the next boot's gate;
                                     # 0s: no fetch at shutdown
    ignitionVersion: 3.2.0           # 3.2.0 (default, OpenShift 4.8+), 3.4.0, 3.5.0
    machineConfigPoolSpec:           # optional: also generate a custom pool
      nodeSelector:                  #   required in it
        matchLabels: {node-role.kubernetes.io/ice: ""}
      maxUnavailable: 1              #   optional: a number or a percentage
      paused: false                  #   optional

  Unknown fields are errors. A pool named worker or master cannot be generated
  (they exist on every cluster); a custom pool takes the worker MachineConfigs
  and its own.

  KMM's BootModuleConfig (kmm.sigs.x-k8s.io/v1beta1) is read too, as
  functionConfig or among the items: machineConfigPoolName is the pool,
  firmwareFilesPath the firmware path; as in KMM, an unset
  inTreeModulesToRemove removes no in-tree module (an info result says so);
  workerImage has no use here (a warning says so).

  A ConfigMap functionConfig takes the same fields as flat keys in data, e.g.
    kpt fn eval PKG --exec ./day1kmod -- kernelModuleName=ice \
        kernelModuleImage=quay.io/acme/ice-kmod machineConfigPool=worker
  Keys: name (default: kernelModuleName), machineConfigName, machineConfigPool,
  kernelModuleImage, kernelModuleName, inTreeModulesToRemove (comma-separated),
  moduleParameters (separated by spaces, like a modprobe command line, since
  an array parameter takes commas: "debug=1 arr=1,2"), additionalModules
  (separated by ';', each a name and its parameters: "irdma roce_ena=1;
  mlx5_ib"), firmwarePath, maxKubeletDelay, rebootPolicy, maxShutdownDelay,
  ignitionVersion,
  machineConfigPoolSpec.nodeSelector (comma-separated
  label=value pairs), machineConfigPoolSpec.maxUnavailable,
  machineConfigPoolSpec.paused. An empty value is an explicit empty list:
  "inTreeModulesToRemove=" removes no in-tree module; leaving the key out
  keeps the default.

OUTPUT
  Every generated item carries the annotation
    day1kmod.dev/generated-from: Day1KernelModule/<name>
  and every MachineConfig day1kmod.dev/generator-version: <version> (what
  day1kmod --version prints). The module's config file is plain text in the
  MachineConfig (a data:, URL), so a changed value shows in a diff.
  A later run replaces those items in place and never duplicates them. When
  Day1KernelModules are among the items (a kpt package), generated items
  whose source is gone are removed. Other items pass through unchanged, in
  their order, with their comments. In kpt, new items go to
  machineconfig_<name>.yaml (and machineconfigpool_<pool>.yaml) beside their
  Day1KernelModule.

  Results: an error names the field path, its value and the source object;
  on any error no item is added or changed and the exit status is 1.
  Warnings (e.g. a fixed image tag) and info results do not fail the run.

USE
  kustomize:  generators: [day1kmod.yaml] with the annotation
                config.kubernetes.io/function: |
                  exec: {path: ./day1kmod}
              kustomize build --enable-alpha-plugins --enable-exec DIR
              (--enable-alpha-plugins alone silently drops the generator)
              or, with a container engine, container: {image: IMAGE}
              and kustomize build --enable-alpha-plugins DIR
  kpt:        kpt fn eval PKG --exec ./day1kmod --fn-config day1kmod.yaml
              kpt fn eval PKG --image IMAGE -- kernelModuleName=ice ...
              kpt fn render PKG --allow-exec   (Kptfile pipeline.mutators)
              kpt fn doc --image IMAGE         (prints this text)
  Argo CD:    the binary in the repo-server image, and
              kustomize.buildOptions: --enable-alpha-plugins --enable-exec
  Flux:       pre-render in CI with kustomize or kpt and commit the output
`

// Main runs the function: it returns the process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	for _, a := range args {
		switch a {
		case "-h", "--help", "help":
			fmt.Fprint(stdout, Usage)
			return 0
		case "--version", "version":
			fmt.Fprintf(stdout, "day1kmod %s\n", machineconfig.Version)
			return 0
		default:
			fmt.Fprintf(stderr, "day1kmod: unexpected argument %q: the function reads a ResourceList on stdin; see day1kmod --help\n", a)
			return 2
		}
	}
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(stderr, "day1kmod: expects a ResourceList on stdin (it is a terminal); see day1kmod --help\n")
		return 2
	}
	results, err := Execute(Processor, stdin, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "day1kmod: %v\n", err)
		return 1
	}
	for _, r := range results {
		if r.Severity == fn.Error || r.Severity == fn.Warning {
			fmt.Fprintf(stderr, "day1kmod: %s\n", r.String())
		}
	}
	return results.ExitCode()
}

// Execute reads a ResourceList from r, runs p and writes the ResourceList to
// w. Unlike fn.AsMain it keeps the items in their input order (the SDK's
// writer sorts them by kind and name), so pass-through items stay where they
// are. The returned error is for unreadable input only; the function's own
// failures are error results.
func Execute(p fn.ResourceListProcessor, r io.Reader, w io.Writer) (fn.Results, error) {
	in, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading the ResourceList: %w", err)
	}
	if len(bytes.TrimSpace(in)) == 0 {
		// An orchestrator always sends a ResourceList: empty input is a
		// broken pipe or a mistake, never "nothing to do".
		return nil, fmt.Errorf("the input is empty: expected a ResourceList (kind: %s) on stdin", kio.ResourceListKind)
	}
	rw := &kio.ByteReadWriter{
		Reader: bytes.NewReader(in),
		// Leave the orchestrator's annotations as they are.
		OmitReaderAnnotations: true,
		KeepReaderAnnotations: true,
	}
	nodes, err := rw.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the ResourceList: %w", err)
	}
	switch {
	case rw.WrappingKind == "" && len(nodes) == 0:
		return nil, fmt.Errorf("the input is empty (only comments or document markers): expected a ResourceList (kind: %s) on stdin", kio.ResourceListKind)
	case rw.WrappingKind == "":
		return nil, fmt.Errorf("the input is not a ResourceList (kind: %s)", kio.ResourceListKind)
	}
	rw.WrappingKind = kio.ResourceListKind
	rw.WrappingAPIVersion = kio.ResourceListAPIVersion

	rl := &fn.ResourceList{FunctionConfig: fn.NewEmptyKubeObject()}
	for _, n := range nodes {
		rl.Items = append(rl.Items, fn.MoveToKubeObject(n))
	}
	if rw.FunctionConfig != nil {
		rl.FunctionConfig = fn.CopyToKubeObject(rw.FunctionConfig)
	}
	if _, err := p.Process(rl); err != nil {
		rl.Results = append(rl.Results, fn.ErrorResult(err))
	}
	if len(rl.Results) > 0 {
		b, err := yaml.Marshal(rl.Results)
		if err != nil {
			return nil, err
		}
		if rw.Results, err = yaml.Parse(string(b)); err != nil {
			return nil, err
		}
	}
	out := make([]*yaml.RNode, 0, len(rl.Items))
	for _, it := range rl.Items {
		out = append(out, it.MoveToResourceNode())
	}
	// yaml.v3's encoder writes in pieces of 128 bytes: unbuffered, a
	// MachineConfig would be some 400 writes to the pipe.
	bw := bufio.NewWriterSize(w, 64<<10)
	pb := &putBack{w: bw, s: takeOut(out)}
	rw.Writer = pb
	if err := rw.Write(out); err != nil {
		return nil, fmt.Errorf("writing the ResourceList: %w", err)
	}
	if err := errors.Join(pb.Flush(), bw.Flush()); err != nil {
		return nil, fmt.Errorf("writing the ResourceList: %w", err)
	}
	return rl.Results, nil
}

// isTerminal: f is a character device other than the null device (a person
// typing, not a pipe or a file).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}
