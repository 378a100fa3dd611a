// Command measure runs the day1kmod function and a no-op pass-through
// function on ResourceLists of unrelated items and reports wall time and
// peak memory (max RSS) of each, and their ratios.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
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

// resourceList has n unrelated ConfigMaps and the Day1KernelModule config.
func resourceList(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `# item %d
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
	b.WriteString(functionConfig)
	return b.Bytes()
}

type sample struct {
	wall  time.Duration
	rssKB int64
}

func runOnce(bin string, in []byte) (sample, error) {
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v\n%s", bin, err, errb.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("kind: ResourceList")) {
		return sample{}, fmt.Errorf("%s: no ResourceList on stdout", bin)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss // KiB on Linux
	}
	return sample{wall, rss}, nil
}

// measure returns the median wall time and the median peak RSS of runs.
func measure(bin string, in []byte, runs int) (sample, error) {
	var walls []time.Duration
	var rsss []int64
	for i := 0; i < runs; i++ {
		s, err := runOnce(bin, in)
		if err != nil {
			return sample{}, err
		}
		walls = append(walls, s.wall)
		rsss = append(rsss, s.rssKB)
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	sort.Slice(rsss, func(i, j int) bool { return rsss[i] < rsss[j] })
	return sample{walls[len(walls)/2], rsss[len(rsss)/2]}, nil
}

func main() {
	fnBin := flag.String("fn", "bin/day1kmod", "the day1kmod function binary")
	noopBin := flag.String("noop", "", "the no-op pass-through function binary")
	sizes := flag.String("items", "1,10000", "comma-separated numbers of unrelated items")
	runs := flag.Int("runs", 5, "runs per measurement (the median is reported)")
	flag.Parse()
	if *noopBin == "" {
		fmt.Fprintln(os.Stderr, "measure: -noop is required")
		os.Exit(2)
	}
	fmt.Printf("median of %d runs; peak memory = max RSS\n\n", *runs)
	fmt.Printf("%8s  %12s %12s %7s  %12s %12s %7s\n", "items", "day1kmod", "no-op", "ratio", "day1kmod", "no-op", "ratio")
	fmt.Printf("%8s  %12s %12s %7s  %12s %12s %7s\n", "", "wall", "wall", "", "peak RSS", "peak RSS", "")
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintf(os.Stderr, "measure: bad item count %q\n", s)
			os.Exit(2)
		}
		in := resourceList(n)
		f, err := measure(*fnBin, in, *runs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(1)
		}
		b, err := measure(*noopBin, in, *runs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(1)
		}
		fmt.Printf("%8d  %12s %12s %6.2fx  %9.1f MB %9.1f MB %6.2fx\n", n,
			f.wall.Round(time.Millisecond), b.wall.Round(time.Millisecond), float64(f.wall)/float64(b.wall),
			float64(f.rssKB)/1024, float64(b.rssKB)/1024, float64(f.rssKB)/float64(b.rssKB))
	}
}
