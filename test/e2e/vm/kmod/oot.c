// SPDX-License-Identifier: GPL-2.0
/*
 * The out-of-tree module of the day1kmod VM end-to-end test.
 *
 * Built under the name of the in-tree network driver it stands in for
 * ("dummy"), and under a second name for the two-modules scenario. Its own
 * MODULE_VERSION (the in-tree dummy has none) and its "tag" parameter show in
 * /sys/module/<name>/ which module is loaded and with what parameter.
 * Built with -DDAY1KMOD_E2E_FAIL, its init fails.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static char *tag = "unset";
module_param(tag, charp, 0444);
MODULE_PARM_DESC(tag, "free text, shown in /sys/module/<name>/parameters/tag");

static int __init oot_init(void)
{
#ifdef DAY1KMOD_E2E_FAIL
	pr_err("%s: day1kmod e2e out-of-tree module: init fails on purpose\n", KBUILD_MODNAME);
	return -ENODEV;
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
