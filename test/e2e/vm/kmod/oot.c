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
 */
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

/* Longer than the load unit's TimeoutStartSec may be (at most 10 min). */
#define BLOCK_SECS 900

static char *tag = "unset";
module_param(tag, charp, 0444);
MODULE_PARM_DESC(tag, "free text, shown in /sys/module/<name>/parameters/tag");

static int __init oot_init(void)
{
#if defined(DAY1KMOD_E2E_FAIL)
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
	pr_info("%s: day1kmod e2e out-of-tree module unloaded\n", KBUILD_MODNAME);
}

module_init(oot_init);
module_exit(oot_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("day1kmod end-to-end test out-of-tree module");
MODULE_VERSION("day1kmod-e2e-oot");
