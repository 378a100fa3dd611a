package mcproducer

import (
	"io"
	"strconv"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// Units and scripts depend on N only: every other value the user gives is
// data in the config file, so none can reach a unit line or a shell word.

// loadUnit runs before network-pre.target, so before NetworkManager brings up
// an interface with the in-tree driver the module replaces.
func loadUnit(name string) string {
	return serializeUnit([]*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "day1kmod: load the out-of-tree kernel module of "+name+" before the network"),
		unit.NewUnitOption("Unit", "DefaultDependencies", "no"),
		unit.NewUnitOption("Unit", "After", "local-fs.target systemd-modules-load.service systemd-udev-trigger.service"),
		unit.NewUnitOption("Unit", "Before", "network-pre.target shutdown.target"),
		unit.NewUnitOption("Unit", "Wants", "network-pre.target"),
		unit.NewUnitOption("Unit", "Conflicts", "shutdown.target"),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "RemainAfterExit", "yes"),
		unit.NewUnitOption("Service", "ExecStart", nodescripts.LoadCommand(name)),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	})
}

// pullUnit needs the network; its script reboots the node once when it has
// extracted a module tree for the running kernel. The script retries the
// pull for minutes; the unit retries the script after that, since a node
// whose registry is unreachable for a while must still get its module,
// except when the image itself cannot work.
func pullUnit(name string) string {
	return serializeUnit([]*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "day1kmod: fetch the out-of-tree kernel module of "+name+" for the running kernel"),
		unit.NewUnitOption("Unit", "Wants", "network-online.target"),
		unit.NewUnitOption("Unit", "After", "network-online.target "+nodescripts.LoadUnit(name)),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "RemainAfterExit", "yes"),
		unit.NewUnitOption("Service", "ExecStart", nodescripts.PullCommand(name)),
		unit.NewUnitOption("Service", "Restart", "on-failure"),
		unit.NewUnitOption("Service", "RestartSec", "1min"),
		unit.NewUnitOption("Service", "RestartPreventExitStatus", strconv.Itoa(nodescripts.PullExitImageUnusable)),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	})
}

func serializeUnit(opts []*unit.UnitOption) string {
	b, err := io.ReadAll(unit.Serialize(opts))
	if err != nil { // reading a bytes.Buffer does not fail
		panic(err)
	}
	return string(b)
}
