package machineconfig

import (
	"fmt"
	"strings"
	"time"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// Units and scripts depend on N only: every other value the user gives is
// data in the config file, so none can reach a unit line or a shell word.
// Each ordering line carries a comment in the unit saying what it waits for
// and why, for whoever reads the unit on a node (systemctl cat).

// The MCD's service that rebases the OS on a node's install-time boot and
// reboots; it runs only while this file exists.
const (
	mcdFirstbootService = "machine-config-daemon-firstboot.service"
	mcdFirstbootFile    = "/etc/ignition-machine-config-encapsulated.json"
)

// loadUnit runs before network-pre.target, so before NetworkManager brings up
// an interface with the in-tree driver the module replaces.
func loadUnit(name string) string {
	return serializeUnit([]unitLine{
		{"Unit", "Description", "day1kmod: load the out-of-tree kernel module of " + name + " before the network", ""},
		{"Unit", "DefaultDependencies", "no", "Early boot: only the dependencies below, so it can run before the network."},
		{"Unit", "After", "local-fs.target systemd-modules-load.service systemd-udev-trigger.service",
			"The module tree lives in /var; the in-tree modules that modules-load.d and udev's\n" +
				"coldplug load must be loaded already, so that the script sees (and unloads) them."},
		{"Unit", "Before", "network-pre.target shutdown.target",
			"NetworkManager waits for network-pre.target: it must find the out-of-tree driver bound."},
		{"Unit", "Wants", "network-pre.target", ""},
		{"Unit", "Conflicts", "shutdown.target", ""},
		{"Service", "Type", "oneshot", ""},
		{"Service", "RemainAfterExit", "yes", ""},
		{"Service", "TimeoutStartSec", systemdTime(nodescripts.LoadTimeout),
			"Every step of the script has its own limit, so the rollback to the in-tree driver\n" +
				"runs before this one; a step stuck in the kernel is reported by the script."},
		{"Service", "ExecStart", nodescripts.LoadCommand(name), ""},
		{"Install", "WantedBy", "multi-user.target", ""},
	})
}

// pullUnit is the gate in front of the kubelet: on a boot where the module
// tree for the running kernel is missing, it starts the fetch and holds the
// kubelet (at most the configured delay) so that the one reboot the fetch
// needs kills no workload. On every other boot it exits at once.
func pullUnit(name string) string {
	return serializeUnit([]unitLine{
		{"Unit", "Description", "day1kmod: hold the kubelet until the out-of-tree kernel module of " + name + " is on disk for the running kernel (bounded)", ""},
		{"Unit", "Wants", "network-online.target", ""},
		{"Unit", "After", "network-online.target " + mcdFirstbootService + " " + nodescripts.LoadUnit(name),
			"The fetch needs the registry. On an install-time boot the MCD's firstboot service rebases\n" +
				"the OS (usually to another kernel) and reboots: never fetch beside it. The load unit's\n" +
				"result tells whether this boot has the module."},
		{"Unit", "Before", "kubelet-dependencies.target kubelet.service",
			"No pod runs until this unit is done: a reboot it makes kills no workload."},
		{"Unit", "ConditionPathExists", "!" + mcdFirstbootFile,
			"The install-time boot (the MCD rebases and reboots): fetch on the next boot."},
		{"Service", "Type", "oneshot", ""},
		{"Service", "RemainAfterExit", "yes", ""},
		{"Service", "TimeoutStartSec", systemdTime(nodescripts.GateTimeout),
			"The script ends its wait at max_kubelet_delay of the config file (" + systemdTime(nodescripts.MaxMaxKubeletDelay) + " at most);\n" +
				"this limit only backs it up. No Restart=: the fetch unit retries, not the gate."},
		{"Service", "ExecStart", nodescripts.PullCommand(name), ""},
		{"Install", "WantedBy", "multi-user.target", ""},
	})
}

// fetchUnit pulls and extracts the image; it is not enabled: the gate starts
// it (systemctl start --no-block) and it retries by itself with a capped
// back-off, which systemd 252's Restart= cannot do.
func fetchUnit(name string) string {
	return serializeUnit([]unitLine{
		{"Unit", "Description", "day1kmod: fetch the out-of-tree kernel module of " + name + " for the running kernel", ""},
		{"Unit", "Wants", "network-online.target", ""},
		{"Unit", "After", "network-online.target", "The registry is reached over the network."},
		{"Service", "Type", "exec", "Started without waiting by the gate, which watches the tree it commits."},
		{"Service", "ExecStart", nodescripts.FetchCommand(name), ""},
	})
}

// prefetchUnit does its work when it stops: at every shutdown, after the
// kubelet stopped and before the network goes down, it fetches the tree the
// next boot needs (the next deployment's kernel, the config file as the MCD
// just wrote it), so that boot loads the module without a reboot of
// day1kmod's own. Like ostree-finalize-staged.service: no ExecStart, the
// work in ExecStop. It is active from early in every boot, before the MCD's
// firstboot service, so that service's reboot runs it too.
func prefetchUnit(name string) string {
	return serializeUnit([]unitLine{
		{"Unit", "Description", "day1kmod: at shutdown, fetch the out-of-tree kernel module of " + name + " for the next boot (bounded)", ""},
		{"Unit", "Wants", "network-online.target", ""},
		{"Unit", "After", "network-online.target network.target",
			"Stopped before the network: the fetch at shutdown needs the registry."},
		{"Unit", "Before", "kubelet.service kubelet-dependencies.target " + mcdFirstbootService + " " +
			nodescripts.PullUnit(name) + " " + nodescripts.FetchUnit(name),
			"Stopped after the kubelet (its pods are gone), after the MCD's firstboot service\n" +
				"(whose reboot it serves), and after the gate and the fetch unit (whose lock it takes).\n" +
				"Not ordered against ostree-finalize-staged.service: that unit is Before=basic.target,\n" +
				"so it stops after every ordinary service, this one included (an explicit Before= of\n" +
				"it would close a cycle with the default After=basic.target)."},
		{"Service", "Type", "oneshot", ""},
		{"Service", "RemainAfterExit", "yes", "Active all boot long, so that every shutdown stops it."},
		{"Service", "ExecStop", nodescripts.PrefetchCommand(name), ""},
		{"Service", "TimeoutStopSec", systemdTime(nodescripts.PrefetchStopTimeout),
			"The script ends at max_shutdown_delay of the config file as it is at shutdown\n" +
				"(" + systemdTime(nodescripts.MaxMaxShutdownDelay) + " at most); this limit only backs it up."},
		{"Install", "WantedBy", "multi-user.target", ""},
	})
}

// unitLine is one Key=Value line of a unit, with the comment above it.
type unitLine struct{ section, key, value, why string }

// serializeUnit writes the lines section by section, in order. Values are
// derived from N only, which validation keeps free of newlines.
func serializeUnit(lines []unitLine) string {
	var b strings.Builder
	section := ""
	for _, l := range lines {
		if strings.ContainsAny(l.key+l.value, "\n\r") {
			panic(fmt.Sprintf("unit line %s=%q spans lines", l.key, l.value))
		}
		if l.section != section {
			if section != "" {
				b.WriteString("\n")
			}
			section = l.section
			b.WriteString("[" + section + "]\n")
		}
		if l.why != "" {
			for _, c := range strings.Split(l.why, "\n") {
				b.WriteString("# " + c + "\n")
			}
		}
		b.WriteString(l.key + "=" + l.value + "\n")
	}
	return b.String()
}

// systemdTime writes d in systemd's time syntax, in minutes when whole.
func systemdTime(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dmin", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
