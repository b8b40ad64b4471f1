/* pipeline.c — runs the loop-IR passes of passes.def in order.
 *
 * requires: a program from lower_model (verified or not).
 * provides: the optimized program; with verify_each, proof after each pass
 *           that it still verifies, naming the pass that broke it.
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

#define LPASS(name, fn, level, doc) int fn(LProgram *, const LoopPassCtx *, Diag *);
#include "passes.def"
#undef LPASS

static const LoopPassInfo pass_table[] = {
#define LPASS(name, fn, level, doc) {name, fn, level, doc},
#include "passes.def"
#undef LPASS
	{NULL, NULL, 0, NULL},
};

const LoopPassInfo *loop_passes(int *n)
{
	int k = 0;
	while (pass_table[k].name)
		k++;
	*n = k;
	return pass_table;
}

int loop_pass_known(const char *name)
{
	if (!strcmp(name, "lower") || !strcmp(name, "all"))
		return 1;
	for (int i = 0; pass_table[i].name; i++)
		if (!strcmp(pass_table[i].name, name))
			return 1;
	return 0;
}

/* Is name in the comma-separated list? */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *s = list; s && *s;) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == n && !strncmp(s, name, n))
			return 1;
		s = e ? e + 1 : s + len;
	}
	return 0;
}

static void print_program(const LProgram *p, const LoopPassCtx *c, const char *after)
{
	FILE *f = c->print_to ? c->print_to : stdout;
	char *s = loop_print(p);
	fprintf(f, "; loop IR after %s\n%s", after, s ? s : "; (out of memory printing the program)\n");
	free(s);
	fflush(f);
}

int loop_run_passes(LProgram *p, const LoopPassCtx *c, Diag *d)
{
	int all = c->print_after && !strcmp(c->print_after, "all");
	if (c->print_after && (all || !strcmp(c->print_after, "lower")))
		print_program(p, c, "lower");
	for (int i = 0; pass_table[i].name; i++) {
		const LoopPassInfo *ps = &pass_table[i];
		if (ps->level > c->opt_level || listed(c->disabled, ps->name))
			continue;
		if (ps->fn(p, c, d) < 0) {
			diag_add(d, "loop pass '%s' failed", ps->name);
			return -1;
		}
		if (c->verify_each && loop_verify(p, d) < 0) {
			diag_add(d, "internal error: the program does not verify after loop pass '%s'", ps->name);
			return -1;
		}
		if (c->print_after && (all || !strcmp(c->print_after, ps->name)))
			print_program(p, c, ps->name);
	}
	return 0;
}
