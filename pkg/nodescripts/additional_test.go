package nodescripts

import (
	"path/filepath"
	"strings"
	"testing"
)

// iceIrdma loads ice, then irdma from the same image (both are in-tree
// modules of the fake host too, loaded at boot).
func iceIrdma() Config {
	c := iceConfig()
	c.InTreeModules = []string{"irdma", "ice"}
	c.Additional = []Module{{Name: "irdma", Parameters: []string{"roce_ena=1"}}}
	return c
}

func TestAdditionalModules(t *testing.T) {
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, n *node)
	}{
		{"loaded in order after the main module, each with its parameters", func(t *testing.T, n *node) {
			n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, extra: []string{"irdma"}})
			conf := n.config(iceIrdma())
			n.pullAndBoot(conf, "ice", "irdma")
			tree := strings.ReplaceAll(n.state("ice", k1), n.root, "$ROOT")

			r := n.run("load.sh", conf)
			n.wantCode(r, 0)
			n.wantCalls(r, "modprobe", "modprobe -r irdma", "modprobe -r ice",
				"modprobe -d "+tree+" ice debug=1 enable", "modprobe -d "+tree+" irdma roce_ena=1")
			n.wantModule("ice", "oot 1.2.3-oot")
			n.wantModule("irdma", "oot 1.2.3-oot")
			if got := n.sys("irdma", "parameters/roce_ena"); got != "1" {
				t.Errorf("irdma roce_ena=%q, want 1", got)
			}
			n.wantLog(r, "loading additional out-of-tree module 'irdma'", "with parameters: roce_ena=1")
		}},
		{"a failing additional module unloads all and puts the in-tree ones back", func(t *testing.T, n *node) {
			n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, extra: []string{"irdma"}})
			conf := n.config(iceIrdma())
			n.pullAndBoot(conf, "ice", "irdma")
			tree := strings.ReplaceAll(n.state("ice", k1), n.root, "$ROOT")

			r := n.run("load.sh", conf, "FAKE_MODPROBE_FAIL=irdma")
			n.wantCode(r, 1)
			n.wantCalls(r, "modprobe", "modprobe -r irdma", "modprobe -r ice",
				"modprobe -d "+tree+" ice debug=1 enable", "modprobe -d "+tree+" irdma roce_ena=1",
				"modprobe -r -d "+tree+" ice", "modprobe ice", "modprobe irdma")
			n.wantModule("ice", "in-tree")
			n.wantModule("irdma", "in-tree")
			n.wantLog(r, "failed to load additional out-of-tree module 'irdma'", "reloaded in-tree modules: irdma ice")
		}},
		{"an additional module missing from the tree: nothing is unloaded", func(t *testing.T, n *node) {
			// The fetch refuses such an image (below); a tree extracted for a
			// config without irdma, then a config that adds it, gets here.
			n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
			n.pullAndBoot(n.config(iceConfig()), "ice", "irdma")
			conf := n.config(iceIrdma())

			r := n.run("load.sh", conf)
			n.wantCode(r, 1)
			n.wantCalls(r, "modprobe")
			n.wantModule("ice", "in-tree")
			n.wantModule("irdma", "in-tree")
			n.wantLog(r, "additional module 'irdma' is not in", "nothing was unloaded")
		}},
		{"an additional module built for another kernel: nothing is unloaded", func(t *testing.T, n *node) {
			n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, extra: []string{"irdma"}})
			conf := n.config(iceIrdma())
			n.pullAndBoot(conf, "ice", "irdma")
			n.writeModule(filepath.Join(n.state("ice", k1), "lib/modules", k1), "extra/irdma.ko",
				moduleFile{vermagic: k2 + " SMP preempt mod_unload modversions", version: "1.2.3-oot", srcversion: oot("irdma", "1.2.3-oot")})
			n.reManifest(n.state("ice", k1)) // a tree as extracted, not a damaged one

			r := n.run("load.sh", conf)
			n.wantCode(r, 1)
			n.wantCalls(r, "modprobe")
			n.wantModule("ice", "in-tree")
			n.wantModule("irdma", "in-tree")
			n.wantLog(r, "additional module 'irdma' was built for kernel '"+k2+"'", "nothing was unloaded")
		}},
		{"an image without an additional module is refused by the fetch, before any reboot", func(t *testing.T, n *node) {
			n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}}) // no irdma in it
			conf := n.config(iceIrdma())
			r := n.run("fetch.sh", conf)
			n.wantCode(r, FetchExitImageUnusable)
			n.wantLog(r, "module 'irdma' is not in")
			n.wantStatus("ice", map[string]string{"pull_result": "unusable"})
			n.wantReboots(0)
			n.wantAbsent(n.state("ice", k1))
		}},
		{"a bad additional module in the config file is refused", func(t *testing.T, n *node) {
			conf := n.config(iceConfig())
			n.write(conf, n.read(conf)+"additional_module=-r ice\n")
			r := n.run("load.sh", conf)
			n.wantCode(r, 1)
			n.wantLog(r, "bad additional module '-r ice'")
			n.wantCalls(r, "modprobe")
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, newNode(t, k1, "ice"))
		})
	}
}

func TestRenderAdditional(t *testing.T) {
	c := iceIrdma()
	c.Additional = append(c.Additional, Module{Name: "ice_swx"})
	out, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(out), "reboot_policy=BeforeKubelet\nmax_shutdown_delay=300\nadditional_module=irdma roce_ena=1\nadditional_module=ice_swx\n") {
		t.Errorf("Render:\n%s", out)
	}
	for _, bad := range []Module{{Name: "-r"}, {Name: "irdma", Parameters: []string{"a b"}}, {Name: "x", Parameters: []string{"-v"}}} {
		c.Additional = []Module{bad}
		if _, err := c.Render(); err == nil {
			t.Errorf("Render accepted %+v", bad)
		}
	}
}
