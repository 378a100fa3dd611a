package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "pass"
	// Warn: the node will go on, but something deserves a look (a fixed
	// tag, an unsigned module).
	Warn Status = "warn"
	// Fail: the node would refuse the image for that kernel, or the module
	// would not load.
	Fail Status = "fail"
	// Info: nothing to judge (a dependency verify cannot see without a list
	// of the host's modules).
	Info Status = "info"
)

// Check names, stable: CI may match on them.
const (
	CheckImage     = "image"     // the reference the node pulls for the kernel, and that it can be read
	CheckTree      = "tree"      // /opt/lib/modules/<kernel>/ is in the image
	CheckModule    = "module"    // the module's file is in the tree
	CheckVermagic  = "vermagic"  // the module (and its dependencies in the tree) are built for the kernel
	CheckDepends   = "depends"   // every dependency is in the tree or on the host
	CheckSignature = "signature" // the module is signed (report only)
	CheckFirmware  = "firmware"  // the firmware directory is in the image
	CheckSymlinks  = "symlinks"  // no symlink leaves its tree
	CheckSpecial   = "special-files"
	CheckSize      = "size" // the trees fit nodescripts.MaxTreeBytes
)

// Row is one check of one kernel.
type Row struct {
	// Name is the Day1KernelModule's name (N).
	Name string `json:"name"`
	// Kernel is the kernel version (uname -r) checked.
	Kernel string `json:"kernel"`
	// Reference is the image reference the node pulls for Kernel.
	Reference string `json:"reference"`
	Check     string `json:"check"`
	// Module is set for the checks of one module.
	Module string `json:"module,omitempty"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
}

// Report is the result of Verify. Its JSON form (-o json) is
// {"ok": bool, "rows": [Row...]} with the fields of Row.
type Report struct {
	// OK: no row failed.
	OK   bool  `json:"ok"`
	Rows []Row `json:"rows"`
}

func (r *Report) add(row Row) {
	// One line each: error texts may end in a newline.
	row.Reason = strings.Join(strings.Fields(row.Reason), " ")
	r.Rows = append(r.Rows, row)
	r.OK = r.OK && row.Status != Fail
}

// Merge appends o's rows.
func (r *Report) Merge(o Report) {
	for _, row := range o.Rows {
		r.add(row)
	}
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Rows == nil {
		r.Rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for a person: per module and kernel, one
// line per check, and a last line with the verdict.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKERNEL\tCHECK\tRESULT\tREASON")
	failed := map[string]bool{}
	kernels := map[string]bool{}
	for _, row := range r.Rows {
		check := row.Check
		if row.Module != "" {
			check += " " + row.Module
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.Name, row.Kernel, check, strings.ToUpper(string(row.Status)), row.Reason)
		k := row.Name + " " + row.Kernel
		kernels[k] = true
		if row.Status == Fail {
			failed[k] = true
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	if r.OK {
		_, err = fmt.Fprintf(w, "\nOK: the image serves every kernel checked (%d).\n", len(kernels))
	} else {
		_, err = fmt.Fprintf(w, "\nFAILED: %d of %d kernels fail a check; nodes on them would keep the in-tree driver.\n", len(failed), len(kernels))
	}
	return err
}
