// SPDX-License-Identifier: GPL-2.0
/*
 * The out-of-tree module of the day1kmod VM end-to-end test.
 *
 * Built under the name of the in-tree network driver it stands in for
 * ("dummy"), and under a second name for the two-modules scenario. Its own
 * MODULE_VERSION (the in-tree dummy has none) and its "tag" parameter show in
 * /sys/module/<name>/ which module is loaded and with what parameter.
 * Built with -DDAY1KMOD_E2E_FAIL, its init fails. Built with
 * -DDAY1KMOD_E2E_BLOCK, its init blocks (interruptibly, as a driver waiting
 * for hardware that never answers) far longer than any bound of the load
 * script, and fails when a signal ends the wait.
 * Built with -DDAY1KMOD_E2E_FIRMWARE (as e2e_fw), its init requests the
 * firmware file E2E_FW_NAME for a root device of its own, as a driver does
 * at probe, fails without it, and computes the file's CRC with crc_itu_t(),
 * an export of the in-tree module crc-itu-t.ko (built as a module in
 * Debian's kernel): the parameters fw_size and fw_crc show both in sysfs.
 */
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#if defined(DAY1KMOD_E2E_FIRMWARE)
#include <linux/crc-itu-t.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/firmware.h>
#endif

/* Longer than the load unit's TimeoutStartSec may be (at most 10 min). */
#define BLOCK_SECS 900

static char *tag = "unset";
module_param(tag, charp, 0444);
MODULE_PARM_DESC(tag, "free text, shown in /sys/module/<name>/parameters/tag");

#if defined(DAY1KMOD_E2E_FIRMWARE)
#define E2E_FW_NAME "day1kmod-e2e/e2e-fw.bin"
static int fw_size = -1;
module_param(fw_size, int, 0444);
MODULE_PARM_DESC(fw_size, "size in bytes of the firmware file read at init");
static unsigned int fw_crc;
module_param(fw_crc, uint, 0444);
MODULE_PARM_DESC(fw_crc, "crc_itu_t (seed 0) of the firmware file read at init");
static struct device *fw_dev;
#endif

static int __init oot_init(void)
{
#if defined(DAY1KMOD_E2E_FIRMWARE)
	const struct firmware *fw;
	int err;

	fw_dev = root_device_register(KBUILD_MODNAME);
	if (IS_ERR(fw_dev))
		return PTR_ERR(fw_dev);
	err = request_firmware(&fw, E2E_FW_NAME, fw_dev);
	if (err) {
		pr_err("%s: day1kmod e2e out-of-tree module: firmware %s not found (%d), fails\n", KBUILD_MODNAME, E2E_FW_NAME, err);
		root_device_unregister(fw_dev);
		return err;
	}
	fw_size = fw->size;
	fw_crc = crc_itu_t(0, fw->data, fw->size);
	release_firmware(fw);
	pr_info("%s: day1kmod e2e out-of-tree module loaded, firmware %s: %d bytes, crc_itu_t 0x%04x, tag=%s\n",
		KBUILD_MODNAME, E2E_FW_NAME, fw_size, fw_crc, tag);
	return 0;
#elif defined(DAY1KMOD_E2E_FAIL)
	pr_err("%s: day1kmod e2e out-of-tree module: init fails on purpose\n", KBUILD_MODNAME);
	return -ENODEV;
#elif defined(DAY1KMOD_E2E_BLOCK)
	pr_info("%s: day1kmod e2e out-of-tree module: init blocks for %d s on purpose\n", KBUILD_MODNAME, BLOCK_SECS);
	if (msleep_interruptible(BLOCK_SECS * 1000)) {
		pr_err("%s: day1kmod e2e out-of-tree module: blocking init interrupted by a signal, fails\n", KBUILD_MODNAME);
		return -EINTR;
	}
	pr_err("%s: day1kmod e2e out-of-tree module: blocking init ran its course, fails\n", KBUILD_MODNAME);
	return -ETIMEDOUT;
#else
	pr_info("%s: day1kmod e2e out-of-tree module loaded, tag=%s\n", KBUILD_MODNAME, tag);
	return 0;
#endif
}

static void __exit oot_exit(void)
{
#if defined(DAY1KMOD_E2E_FIRMWARE)
	root_device_unregister(fw_dev);
#endif
	pr_info("%s: day1kmod e2e out-of-tree module unloaded\n", KBUILD_MODNAME);
}

module_init(oot_init);
module_exit(oot_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("day1kmod end-to-end test out-of-tree module");
MODULE_VERSION("day1kmod-e2e-oot");
