/* c_names.c — text buffer, string set and C identifiers for the C backend.
 *
 * Loop-IR names may be anything ("conv/1", "fc1.weight", "for"); C needs
 * identifiers. Each buffer and variable gets its name with every character
 * outside [A-Za-z0-9_] replaced by '_', shortened to 40 characters, prefixed
 * with "v_" when it would start with a digit or '_', or be a keyword, a name
 * that <math.h> or <stdint.h> may declare (also in GNU modes: y0, j1, ...),
 * an all-capitals name (a macro, e.g. NAN), a *_t type name, or start with
 * nnl_ (the generated helpers); a number is appended until it is unique in
 * the file. Buffers and variables share one namespace, so no declaration
 * shadows another (clean with -Wshadow).
 */
#include "c_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text ------------------------------------------------------------------ */

void co_indent(StrBuf *o, int depth)
{
	static const char tabs[] = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
	while (depth > 0) {
		int k = depth > 16 ? 16 : depth;
		sb_mem(o, tabs, (size_t)k);
		depth -= k;
	}
}

/* ---- CNameSet -------------------------------------------------------------- */

static size_t hash(const char *s)
{
	size_t h = 1469598103u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int cns_has(const CNameSet *s, const char *name)
{
	if (!s->cap)
		return 0;
	for (size_t i = hash(name) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i])
			return 0;
		if (!strcmp(s->v[i], name))
			return 1;
	}
}

int cns_add(CNameSet *s, const char *name)
{
	if (cns_has(s, name))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 256;
		char **v = calloc(nc, sizeof *v);
		if (!v) {
			s->oom = 1;
			return -1;
		}
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				size_t j = hash(s->v[i]) & (nc - 1);
				while (v[j])
					j = (j + 1) & (nc - 1);
				v[j] = s->v[i];
			}
		free(s->v);
		s->v = v;
		s->cap = nc;
	}
	char *copy = nnl_strdup(name);
	if (!copy) {
		s->oom = 1;
		return -1;
	}
	size_t j = hash(name) & (s->cap - 1);
	while (s->v[j])
		j = (j + 1) & (s->cap - 1);
	s->v[j] = copy;
	s->n++;
	return 0;
}

void cns_free(CNameSet *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* ---- identifiers ------------------------------------------------------------ */

static const char *const reserved[] = {
	/* C99/C11 keywords (and C++'s most common, for readers' tools) */
	"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
	"float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
	"sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool",
	"true", "false", "asm", "typeof", "class", "new", "delete", "this", "template", "namespace",
	/* the function's parameters, main, errno */
	"input", "output", "arena", "main", "errno",
	/* <math.h> macros with lower-case names */
	"isnan", "isinf", "isfinite", "isnormal", "signbit", "fpclassify", "isgreater", "isgreaterequal", "isless",
	"islessequal", "islessgreater", "isunordered", "math_errhandling",
	/* glibc/newlib extras visible in GNU modes (with f and l variants below) */
	"j0", "j1", "jn", "y0", "y1", "yn", "gamma", "drem", "finite", "scalb", "significand", "exp10", "pow10",
	"sincos", "lgamma_r", "gamma_r", "isinff", "isnanf", "matherr", "signgam", "infinity", "roundeven",
	"fromfp", "ufromfp", "canonicalize", "nextup", "nextdown", "fmaxmag", "fminmag", "totalorder",
};

/* C99 <math.h> functions; each also with suffix f and l. */
static const char *const mathfns[] = {
	"acos", "asin", "atan", "atan2", "cos", "sin", "tan", "acosh", "asinh", "atanh", "cosh", "sinh", "tanh",
	"exp", "exp2", "expm1", "frexp", "ilogb", "ldexp", "log", "log10", "log1p", "log2", "logb", "modf",
	"scalbn", "scalbln", "cbrt", "fabs", "hypot", "pow", "sqrt", "erf", "erfc", "lgamma", "tgamma", "ceil",
	"floor", "nearbyint", "rint", "lrint", "llrint", "round", "lround", "llround", "trunc", "fmod", "remainder",
	"remquo", "copysign", "nan", "nextafter", "nexttoward", "fdim", "fmax", "fmin", "fma", "j0", "j1", "jn",
	"y0", "y1", "yn", "gamma", "drem", "finite", "scalb", "significand", "exp10", "pow10", "sincos", "roundeven",
};

static int is_reserved(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if (!strcmp(s, reserved[i]))
			return 1;
	for (size_t i = 0; i < sizeof mathfns / sizeof mathfns[0]; i++) {
		size_t k = strlen(mathfns[i]);
		if (!strncmp(s, mathfns[i], k) && (s[k] == 0 || ((s[k] == 'f' || s[k] == 'l') && s[k + 1] == 0)))
			return 1;
	}
	if (n >= 2 && s[n - 2] == '_' && s[n - 1] == 't')
		return 1; /* int32_t, float_t, ... */
	if ((s[0] == 'n' || s[0] == 'N') && (s[1] == 'n' || s[1] == 'N') && (s[2] == 'l' || s[2] == 'L') && s[3] == '_')
		return 1;
	int lower = 0;
	for (const char *q = s; *q; q++)
		if (*q >= 'a' && *q <= 'z')
			lower = 1;
	return !lower; /* NAN, INT8_MAX, EOF: macros */
}

char *cc_fresh_name(CCtx *c, const char *base)
{
	char s[64], t[80];
	size_t k = 0;
	for (const char *q = base; *q && k < 40; q++) {
		char ch = *q;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
		s[k++] = ok ? ch : '_';
	}
	s[k] = 0;
	if (k == 0)
		snprintf(s, sizeof s, "v");
	k = strlen(s);
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '_' || is_reserved(s)) {
		memmove(s + 2, s, k + 1);
		s[0] = 'v';
		s[1] = '_';
	}
	snprintf(t, sizeof t, "%s", s);
	for (int i = 2; cns_has(&c->names, t); i++)
		snprintf(t, sizeof t, "%s_%d", s, i);
	if (cns_add(&c->names, t) < 0)
		return NULL;
	return nnl_strdup(t);
}

int cc_assign_names(CCtx *c)
{
	const LProgram *p = c->p;
	char fn[300];
	snprintf(fn, sizeof fn, "%s_run", c->o->prefix);
	if (cns_add(&c->names, fn) < 0)
		return -1;
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *b = &p->bufs[i];
		/* the model input and output are the parameters themselves */
		c->bname[i] = b->kind == LB_INPUT ? nnl_strdup("input")
		            : b->kind == LB_OUTPUT ? nnl_strdup("output") : cc_fresh_name(c, b->name);
		if (!c->bname[i])
			return -1;
	}
	for (int i = 0; i < p->n_vars; i++)
		if (!(c->vname[i] = cc_fresh_name(c, p->vars[i].name)))
			return -1;
	return 0;
}
