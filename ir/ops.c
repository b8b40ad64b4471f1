/* ops.c — the op registry built from ops.def: names, arity, attributes and
 * the infer/eval entry points of each op's family.
 *
 * Arity comes from the "inputs" string of each row ("x, weight, bias?",
 * "x..."), parsed once, so the message text and the check cannot disagree.
 */
#include "ir.h"

#include <string.h>

/* Attribute arrays, one per op: attrs_ID[]. */
#define A(name, kind, def, doc) {name, ATTR_##kind, def, doc},
#define OP(id, json, fn, inputs, flags, summary, ...) \
	static const AttrSpec attrs_##id[] = {__VA_ARGS__{NULL, ATTR_INT, NULL, NULL}};
#include "ops.def"
#undef OP
#undef A

/* Family entry points, defined in ir/ops_*.c. */
#define OP(id, json, fn, ...) \
	int infer_##fn(const OpCtx *, Tensor *const *, Tensor *); \
	int eval_##fn(const OpCtx *, const Tensor *const *, void *const *, Tensor *, void *);
#include "ops.def"
#undef OP

static OpInfo op_table[OP_COUNT] = {
#define OP(id, json, fn, inputs, flags, summary, ...) \
	[OP_##id] = {json, inputs, summary, flags, 0, 0, attrs_##id, 0},
#include "ops.def"
#undef OP
};

static const InferFn infer_table[OP_COUNT] = {
#define OP(id, json, fn, ...) [OP_##id] = infer_##fn,
#include "ops.def"
#undef OP
};

static const EvalFn eval_table[OP_COUNT] = {
#define OP(id, json, fn, ...) [OP_##id] = eval_##fn,
#include "ops.def"
#undef OP
};

static int table_ready;

/* Count inputs: names separated by ", "; '?' optional, "..." variadic. */
static void init_table(void)
{
	for (int op = 1; op < OP_COUNT; op++) {
		OpInfo *o = &op_table[op];
		int lo = 0, hi = 0;
		const char *s = o->inputs;
		while (*s) {
			const char *e = strchr(s, ',');
			size_t len = e ? (size_t)(e - s) : strlen(s);
			if (len >= 3 && strncmp(s + len - 3, "...", 3) == 0) {
				lo++;
				hi = -1;
			} else if (len >= 1 && s[len - 1] == '?') {
				if (hi >= 0)
					hi++;
			} else {
				lo++;
				if (hi >= 0)
					hi++;
			}
			s += len;
			while (*s == ',' || *s == ' ')
				s++;
		}
		o->min_in = lo;
		o->max_in = hi;
		int n = 0;
		while (o->attrs[n].name)
			n++;
		if (n > NNL_MAX_ATTRS)
			NNL_BUG("an op has more attributes than NNL_MAX_ATTRS");
		o->n_attrs = n;
	}
	table_ready = 1;
}

const OpInfo *op_info(OpKind op)
{
	if (!table_ready)
		init_table();
	if (op <= OP_INVALID || op >= OP_COUNT)
		NNL_BUG("op_info on an invalid op");
	return &op_table[op];
}

OpKind op_from_name(const char *name, int direct)
{
	if (!name)
		return OP_INVALID;
	for (int op = 1; op < OP_COUNT; op++) {
		const OpInfo *o = op_info((OpKind)op);
		if (!!(o->flags & OPF_DIRECT) == !!direct && strcmp(o->name, name) == 0)
			return (OpKind)op;
	}
	return OP_INVALID;
}

const char *op_input_name(OpKind op, int i, char *buf, size_t bufsize)
{
	const char *s = op_info(op)->inputs;
	int k = 0;
	const char *last = s;
	size_t lastlen = 0;
	while (*s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		last = s;
		lastlen = len;
		if (k == i)
			break;
		k++;
		s += len;
		while (*s == ',' || *s == ' ')
			s++;
	}
	size_t n = lastlen;
	while (n > 0 && (last[n - 1] == '?' || last[n - 1] == '.'))
		n--;
	if (n >= bufsize)
		n = bufsize - 1;
	memcpy(buf, last, n);
	buf[n] = 0;
	return buf;
}

const char *attr_kind_name(AttrKind k)
{
	switch (k) {
	case ATTR_INT: return "integer";
	case ATTR_INTS: return "integer or list of integers";
	case ATTR_FLOAT: return "number";
	case ATTR_BOOL: return "boolean";
	case ATTR_STRING: return "string";
	case ATTR_PAD: return "integer, list of integers, \"same\" or \"valid\"";
	}
	return "?";
}

InferFn op_infer_fn(OpKind op)
{
	op_info(op);
	return infer_table[op];
}

EvalFn op_eval_fn(OpKind op)
{
	op_info(op);
	return eval_table[op];
}
