// SPDX-License-Identifier: GPL-2.0
/* joe's example out-of-tree module: says its greeting when loaded, goodbye when removed. */
#include <linux/init.h>
#include <linux/module.h>

static char *greeting = "hello";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "what the module says when it is loaded");

static int __init hello_joe_init(void)
{
	pr_info("hello_joe: %s from joe\n", greeting);
	return 0;
}

static void __exit hello_joe_exit(void)
{
	pr_info("hello_joe: goodbye\n");
}

module_init(hello_joe_init);
module_exit(hello_joe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("joe's example out-of-tree module");
