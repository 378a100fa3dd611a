// Command measure runs the day1kmod function and a no-op pass-through
// function on the same ResourceLists and reports wall time and peak memory
// (max RSS) of each and their ratios. Runs alternate between the two
// binaries (fn, no-op, fn, no-op, ...) and medians are compared, so a busy
// machine slows both alike.
//
// Two series:
//   - items: N unrelated ConfigMaps plus one Day1KernelModule as
//     functionConfig (what kustomize or kpt fn eval passes);
//   - modules: N Day1KernelModules among as many unrelated items and no
//     functionConfig (a kpt package); the cost of one MachineConfig is
//     (day1kmod - no-op) / N, reported against the no-op's whole 1-item run.
//
// With a 1-item run it also prints the function's fixed cost against its
// goal (goalWall, goalRSS), with the ratio of the least disturbed runs.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const functionConfig = `functionConfig:
  apiVersion: day1kmod.dev/v1alpha1
  kind: Day1KernelModule
  metadata:
    name: ice
  spec:
    machineConfigPool: worker
    kernelModuleImage: quay.io/acme/ice-kmod
    kernelModuleName: ice
`

const header = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"

func configMap(b *bytes.Buffer, i int) {
	fmt.Fprintf(b, `# item %d
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: cm-%05d
    namespace: bench
    labels: {app: bench}
  data:
    key: value-%d
    list: "a,b,c"
`, i, i, i)
}

// itemsInput has n unrelated ConfigMaps and the Day1KernelModule config.
func itemsInput(n int) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for i := range n {
		configMap(&b, i)
	}
	b.WriteString(functionConfig)
	return b.Bytes()
}

// modulesInput has n Day1KernelModules, each beside an unrelated item.
func modulesInput(n int) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for i := range n {
		configMap(&b, i)
		fmt.Fprintf(&b, `- apiVersion: day1kmod.dev/v1alpha1
  kind: Day1KernelModule
  metadata:
    name: mod%d
    annotations:
      config.kubernetes.io/local-config: "true"
  spec:
    machineConfigPool: worker
    kernelModuleImage: quay.io/acme/mod-kmod
    kernelModuleName: mod%d
`, i, i)
	}
	return b.Bytes()
}

type sample struct {
	wall  time.Duration
	rssKB int64
	// minWall and minRSSKB are the smallest of the runs (pair only): on a
	// busy machine the least disturbed run.
	minWall  time.Duration
	minRSSKB int64
}

// runOnce runs bin with the file in as stdin. The measuring process stays
// small while it spawns (input and output live in files, not in its memory):
// a child's max RSS starts at its parent's size before the exec.
func runOnce(bin, in string) (sample, error) {
	stdin, err := os.Open(in)
	if err != nil {
		return sample{}, err
	}
	defer stdin.Close()
	stdout, err := os.CreateTemp("", "measure-out-")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(stdout.Name())
	defer stdout.Close()
	var errb bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &errb
	debug.FreeOSMemory()
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v\n%s", bin, err, errb.String())
	}
	head := make([]byte, 4096)
	k, _ := stdout.ReadAt(head, 0)
	if !bytes.Contains(head[:k], []byte("kind: ResourceList")) {
		return sample{}, fmt.Errorf("%s: no ResourceList on stdout", bin)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	return sample{wall: wall, rssKB: rss}, nil
}

// inputFile writes b to a temporary file and returns its name.
func inputFile(b []byte) string {
	f, err := os.CreateTemp("", "measure-in-")
	if err == nil {
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	return f.Name()
}

// pair runs both binaries runs times each, alternating, and returns the
// median wall time and peak RSS of each.
func pair(fnBin, noopBin string, input []byte, runs int) (fn, noop sample, err error) {
	in := inputFile(input)
	defer os.Remove(in)
	input = nil
	var fw, nw []time.Duration
	var fr, nr []int64
	for range runs {
		f, err := runOnce(fnBin, in)
		if err != nil {
			return fn, noop, err
		}
		n, err := runOnce(noopBin, in)
		if err != nil {
			return fn, noop, err
		}
		fw, fr = append(fw, f.wall), append(fr, f.rssKB)
		nw, nr = append(nw, n.wall), append(nr, n.rssKB)
	}
	return sample{median(fw), median(fr), slices.Min(fw), slices.Min(fr)},
		sample{median(nw), median(nr), slices.Min(nw), slices.Min(nr)}, nil
}

func median[T int64 | time.Duration](v []T) T {
	slices.Sort(v)
	return v[len(v)/2]
}

func sizes(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "measure: bad size %q\n", f)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

func main() {
	fnBin := flag.String("fn", "bin/day1kmod", "the day1kmod function binary")
	noopBin := flag.String("noop", "", "the no-op pass-through function binary")
	items := flag.String("items", "1,20000", "comma-separated numbers of unrelated items (one Day1KernelModule as functionConfig)")
	modules := flag.String("modules", "1,10,100,1000", "comma-separated numbers of Day1KernelModules among the items (package mode)")
	runs := flag.Int("runs", 7, "runs per binary and size (the median is reported)")
	flag.Parse()
	if *noopBin == "" {
		fmt.Fprintln(os.Stderr, "measure: -noop is required")
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	fmt.Printf("median of %d paired, alternating runs; peak memory = max RSS\n\n", *runs)
	row := func(label string, f, b sample) {
		fmt.Printf("%-14s  %10s %10s %6.2fx  %8.1f MB %8.1f MB %6.2fx\n", label,
			f.wall.Round(100*time.Microsecond), b.wall.Round(100*time.Microsecond), float64(f.wall)/float64(b.wall),
			float64(f.rssKB)/1024, float64(b.rssKB)/1024, float64(f.rssKB)/float64(b.rssKB))
	}
	fmt.Printf("%-14s  %10s %10s %7s  %11s %11s %7s\n", "input", "day1kmod", "no-op", "wall", "day1kmod", "no-op", "RSS")

	var noop1 time.Duration
	var fixed func()
	for _, n := range sizes(*items) {
		f, b, err := pair(*fnBin, *noopBin, itemsInput(n), *runs)
		if err != nil {
			fail(err)
		}
		if n == 1 {
			noop1 = b.wall
			fixed = func() { fixedCost(f, b) }
		}
		row(fmt.Sprintf("%d items", n), f, b)
	}
	type perMC struct {
		n    int
		cost time.Duration
	}
	var costs []perMC
	for _, n := range sizes(*modules) {
		f, b, err := pair(*fnBin, *noopBin, modulesInput(n), *runs)
		if err != nil {
			fail(err)
		}
		row(fmt.Sprintf("%d modules", n), f, b)
		costs = append(costs, perMC{n, (f.wall - b.wall) / time.Duration(n)})
	}
	if fixed != nil {
		fixed()
	}
	if len(costs) > 0 {
		fmt.Printf("\ncost of one MachineConfig = (day1kmod - no-op) / modules")
		if noop1 > 0 {
			fmt.Printf(", against the no-op's whole 1-item run (%s)", noop1.Round(100*time.Microsecond))
		}
		fmt.Println()
		for _, c := range costs {
			fmt.Printf("%6d modules: %8s per MachineConfig", c.n, c.cost.Round(10*time.Microsecond))
			if noop1 > 0 {
				fmt.Printf("  = %.2fx", float64(c.cost)/float64(noop1))
			}
			fmt.Println()
		}
	}
}

// The goal for the function's fixed cost (issue 17): one item at most this
// many times the no-op's wall time and peak memory, measured in the same run.
const (
	goalWall = 1.3
	goalRSS  = 1.5
)

// fixedCost prints the 1-item ratios against the goal: medians, and the
// ratio of the smallest runs beside them.
func fixedCost(f, b sample) {
	verdict := func(r, goal float64) string {
		if r <= goal {
			return "met"
		}
		return "NOT met"
	}
	wall := float64(f.wall) / float64(b.wall)
	rss := float64(f.rssKB) / float64(b.rssKB)
	fmt.Printf("\nfixed cost, 1 item against the no-op (median; min in brackets):\n")
	fmt.Printf("  wall      %5.2fx (%5.2fx)   goal <= %.1fx: %s\n", wall,
		float64(f.minWall)/float64(b.minWall), goalWall, verdict(wall, goalWall))
	fmt.Printf("  peak RSS  %5.2fx (%5.2fx)   goal <= %.1fx: %s\n", rss,
		float64(f.minRSSKB)/float64(b.minRSSKB), goalRSS, verdict(rss, goalRSS))
}
