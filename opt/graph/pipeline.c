/* pipeline.c — the graph-pass table (passes.def), parsing of
 * "pass,pass(key=value,...)", running the steps, and the report.
 *
 * Grammar:  pipeline := step (',' step)*
 *           step     := NAME | NAME '(' [arg (',' arg)*] ')'
 *           arg      := KEY '=' VALUE | VALUE      (a bare VALUE continues
 *                                                 the previous NAMES list)
 * so  prune(sparsity=0.5,layers=conv1,fc1,scope=global)  gives layers = [conv1, fc1].
 * Every argument is checked here (kind, known key, given once); ranges are
 * the pass's job, because they depend on the model.
 */
#include "gopt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GA(name, kind, def, doc) {name, GA_##kind, def, doc},
#define GPASS(id, name, fn, doc, ...) static const GArgSpec args_##id[] = {__VA_ARGS__{NULL, GA_INT, NULL, NULL}};
#include "passes.def"
#undef GPASS

static const GPassInfo passes[] = {
#define GPASS(id, name, fn, doc, ...) {name, fn, doc, args_##id, (int)(sizeof args_##id / sizeof args_##id[0]) - 1},
#include "passes.def"
#undef GPASS
};
#undef GA

int gopt_pass_count(void) { return (int)(sizeof passes / sizeof passes[0]); }
const GPassInfo *gopt_pass_at(int i) { return i >= 0 && i < gopt_pass_count() ? &passes[i] : NULL; }

const GPassInfo *gopt_pass(const char *name)
{
	for (int i = 0; i < gopt_pass_count(); i++)
		if (strcmp(passes[i].name, name) == 0)
			return &passes[i];
	return NULL;
}

const PassArg *pass_arg(const PassArgs *a, const char *name)
{
	for (int i = 0; i < a->pass->n_args; i++)
		if (strcmp(a->pass->args[i].name, name) == 0)
			return &a->v[i];
	NNL_BUG("pass_arg: the pass has no such argument");
	return NULL;
}

int pass_selects(const PassArgs *a, const char *argname, const char *layer)
{
	const PassArg *v = pass_arg(a, argname);
	if (!v->set)
		return 1;
	for (int i = 0; i < v->n_names; i++)
		if (strcmp(v->names[i], layer) == 0)
			return 1;
	return 0;
}

static const char *kind_name(GArgKind k)
{
	switch (k) {
	case GA_INT: return "an integer";
	case GA_FLOAT: return "a number";
	case GA_STRING: return "a word";
	case GA_NAMES: return "a list of names";
	}
	return "?";
}

static void arg_free(PassArg *v)
{
	free(v->s);
	for (int i = 0; i < v->n_names; i++)
		free(v->names[i]);
	free(v->names);
	memset(v, 0, sizeof *v);
}

static int add_name(PassArg *v, const char *s, size_t n)
{
	char **p = realloc(v->names, (size_t)(v->n_names + 1) * sizeof *p);
	if (!p)
		return -1;
	v->names = p;
	char *c = nnl_malloc(n + 1);
	if (!c)
		return -1;
	memcpy(c, s, n);
	c[n] = 0;
	v->names[v->n_names++] = c;
	return 0;
}

/* Set v from text (kind k); -1 with a message. */
static int set_value(PassArg *v, const GArgSpec *s, const char *pass, const char *text, size_t n, Diag *d)
{
	char buf[256];
	if (n >= sizeof buf || n == 0) {
		diag_add(d, "-passes: %s(%s=...): %s", pass, s->name, n ? "value too long" : "empty value");
		return -1;
	}
	memcpy(buf, text, n);
	buf[n] = 0;
	char *end;
	errno = 0;
	switch (s->kind) {
	case GA_INT: {
		long long x = strtoll(buf, &end, 10);
		if (*end || errno) {
			diag_add(d, "-passes: %s(%s=%s): expected an integer", pass, s->name, buf);
			return -1;
		}
		v->i = x;
		v->f = (double)x;
		break;
	}
	case GA_FLOAT: {
		double x = strtod(buf, &end);
		if (*end || errno || !isfinite(x)) {
			diag_add(d, "-passes: %s(%s=%s): expected a number", pass, s->name, buf);
			return -1;
		}
		v->f = x;
		break;
	}
	case GA_STRING:
		free(v->s);
		if (!(v->s = nnl_strdup(buf)))
			goto oom;
		break;
	case GA_NAMES:
		for (int i = 0; i < v->n_names; i++)
			free(v->names[i]);
		v->n_names = 0;
		if (add_name(v, buf, n) < 0)
			goto oom;
		break;
	}
	v->set = 1;
	return 0;
oom:
	diag_add(d, "-passes: out of memory");
	return -1;
}

static int is_key_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'; }

static int parse_step(const char *s, size_t n, PassArgs *st, Diag *d)
{
	size_t k = 0;
	while (k < n && s[k] != '(')
		k++;
	char name[64];
	size_t nl = k;
	while (nl > 0 && (s[nl - 1] == ' '))
		nl--;
	if (nl == 0 || nl >= sizeof name) {
		diag_add(d, "-passes: expected a pass name at '%.*s'", (int)n, s);
		return -1;
	}
	memcpy(name, s, nl);
	name[nl] = 0;
	const GPassInfo *pi = gopt_pass(name);
	if (!pi) {
		char list[512] = "";
		for (int i = 0; i < gopt_pass_count(); i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", passes[i].name);
		diag_add(d, "-passes: unknown pass '%s'; passes: %s", name, list);
		return -1;
	}
	memset(st, 0, sizeof *st);
	st->pass = pi;
	for (int i = 0; i < pi->n_args; i++)
		if (pi->args[i].def && set_value(&st->v[i], &pi->args[i], name, pi->args[i].def,
		                                 strlen(pi->args[i].def), d) < 0)
			return -1;
	if (k == n)
		return 0;
	if (s[n - 1] != ')') {
		diag_add(d, "-passes: %s(: missing ')'", name);
		return -1;
	}
	const char *p = s + k + 1, *e = s + n - 1;
	int last = -1; /* the argument a bare value continues */
	while (p < e) {
		const char *q = p;
		while (q < e && *q != ',')
			q++;
		const char *eq = memchr(p, '=', (size_t)(q - p));
		if (q == p) {
			diag_add(d, "-passes: %s(...): empty argument", name);
			return -1;
		}
		if (!eq) {
			if (last < 0 || pi->args[last].kind != GA_NAMES) {
				diag_add(d, "-passes: %s(%.*s): expected key=value", name, (int)(q - p), p);
				return -1;
			}
			if (add_name(&st->v[last], p, (size_t)(q - p)) < 0) {
				diag_add(d, "-passes: out of memory");
				return -1;
			}
		} else {
			int ai = -1;
			for (int i = 0; i < pi->n_args; i++)
				if (strlen(pi->args[i].name) == (size_t)(eq - p) && !strncmp(pi->args[i].name, p, (size_t)(eq - p)))
					ai = i;
			for (const char *c = p; c < eq; c++)
				if (!is_key_char(*c))
					ai = -2;
			if (ai < 0) {
				char list[512] = "";
				for (int i = 0; i < pi->n_args; i++)
					snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s (%s)", i ? ", " : "",
					         pi->args[i].name, kind_name(pi->args[i].kind));
				diag_add(d, "-passes: %s: unknown argument '%.*s'; arguments: %s", name, (int)(eq - p), p, list);
				return -1;
			}
			if (st->v[ai].given) {
				diag_add(d, "-passes: %s: argument '%s' given twice", name, pi->args[ai].name);
				return -1;
			}
			if (set_value(&st->v[ai], &pi->args[ai], name, eq + 1, (size_t)(q - eq - 1), d) < 0)
				return -1;
			st->v[ai].given = 1;
			last = ai;
		}
		p = q < e ? q + 1 : q;
	}
	return 0;
}

int gopt_parse(const char *spec, GPipeline *pl, Diag *d)
{
	memset(pl, 0, sizeof *pl);
	size_t len = strlen(spec);
	if (len == 0) {
		diag_add(d, "-passes: empty pipeline");
		return -1;
	}
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		int depth = 0;
		while (j < len && (depth > 0 || spec[j] != ',')) {
			if (spec[j] == '(')
				depth++;
			else if (spec[j] == ')' && --depth < 0)
				break;
			j++;
		}
		if (depth != 0 || (j < len && spec[j] == ')')) {
			diag_add(d, "-passes: unbalanced parentheses in '%s'", spec);
			gopt_pipeline_free(pl);
			return -1;
		}
		PassArgs *s = realloc(pl->steps, (size_t)(pl->n + 1) * sizeof *s);
		if (!s) {
			diag_add(d, "-passes: out of memory");
			gopt_pipeline_free(pl);
			return -1;
		}
		pl->steps = s;
		memset(&pl->steps[pl->n], 0, sizeof pl->steps[0]);
		pl->n++;
		if (parse_step(spec + i, j - i, &pl->steps[pl->n - 1], d) < 0) {
			gopt_pipeline_free(pl);
			return -1;
		}
		i = j + 1;
		if (j + 1 == len) {
			diag_add(d, "-passes: trailing ',' in '%s'", spec);
			gopt_pipeline_free(pl);
			return -1;
		}
	}
	return 0;
}

void gopt_pipeline_free(GPipeline *pl)
{
	for (int i = 0; i < pl->n; i++)
		for (int k = 0; k < GOPT_MAX_ARGS; k++)
			arg_free(&pl->steps[i].v[k]);
	free(pl->steps);
	memset(pl, 0, sizeof *pl);
}

int gopt_run(Model *m, const GPipeline *pl, const GoptData *data, PassReport *r, Diag *d)
{
	r->params0 = model_param_count(m);
	r->nnz0 = gopt_model_nnz(m);
	r->macs0 = gopt_model_macs(m);
	for (int i = 0; i < pl->n; i++) {
		PassArgs a = pl->steps[i];
		a.data = data;
		if (a.pass->fn(m, &a, r, d) < 0)
			return -1;
		if (r->oom) {
			diag_add(d, "%s: out of memory", a.pass->name);
			return -1;
		}
	}
	r->params1 = model_param_count(m);
	r->nnz1 = gopt_model_nnz(m);
	r->macs1 = gopt_model_macs(m);
	return 0;
}

void gopt_print_passes(FILE *f)
{
	for (int i = 0; i < gopt_pass_count(); i++) {
		const GPassInfo *p = &passes[i];
		fprintf(f, "  %s: %s\n", p->name, p->doc);
		for (int k = 0; k < p->n_args; k++)
			fprintf(f, "      %s=%s%s%s%s  %s\n", p->args[k].name,
			        p->args[k].kind == GA_INT ? "N" : p->args[k].kind == GA_FLOAT ? "X"
			        : p->args[k].kind == GA_NAMES ? "A,B,..." : "WORD",
			        p->args[k].def ? " (default " : "", p->args[k].def ? p->args[k].def : "",
			        p->args[k].def ? ")" : "", p->args[k].doc);
	}
}

/* ---- report --------------------------------------------------------------------- */

void report_free(PassReport *r)
{
	for (int i = 0; i < r->n; i++) {
		free(r->rows[i].pass);
		free(r->rows[i].layer);
		free(r->rows[i].action);
		free(r->rows[i].note);
	}
	free(r->rows);
	memset(r, 0, sizeof *r);
}

void report_add(PassReport *r, const char *pass, const char *layer, const char *action, int64_t params0,
                int64_t params1, int64_t nnz1, int64_t macs0, int64_t macs1, const char *fmt, ...)
{
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 16;
		ReportRow *p = realloc(r->rows, (size_t)cap * sizeof *p);
		if (!p) {
			r->oom = 1;
			return;
		}
		r->rows = p;
		r->cap = cap;
	}
	char note[512] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(note, sizeof note, fmt, ap);
		va_end(ap);
	}
	ReportRow *w = &r->rows[r->n];
	w->pass = nnl_strdup(pass);
	w->layer = nnl_strdup(layer);
	w->action = nnl_strdup(action);
	w->note = nnl_strdup(note);
	w->params0 = params0;
	w->params1 = params1;
	w->nnz1 = nnz1;
	w->macs0 = macs0;
	w->macs1 = macs1;
	if (!w->pass || !w->layer || !w->action || !w->note) {
		free(w->pass);
		free(w->layer);
		free(w->action);
		free(w->note);
		r->oom = 1;
		return;
	}
	r->n++;
}

void report_print(const PassReport *r, FILE *f)
{
	fprintf(f, "%-10s %-22s %-10s %10s %10s %10s %10s %10s  %s\n", "pass", "layer", "action", "params", "->",
	        "nonzero", "MACs", "->", "note");
	for (int i = 0; i < r->n; i++) {
		const ReportRow *w = &r->rows[i];
		fprintf(f, "%-10s %-22s %-10s %10lld %10lld %10lld %10lld %10lld  %s\n", w->pass, w->layer, w->action,
		        (long long)w->params0, (long long)w->params1, (long long)w->nnz1, (long long)w->macs0,
		        (long long)w->macs1, w->note);
	}
	fprintf(f, "model: parameters %lld -> %lld (nonzero %lld -> %lld), MACs %lld -> %lld\n",
	        (long long)r->params0, (long long)r->params1, (long long)r->nnz0, (long long)r->nnz1,
	        (long long)r->macs0, (long long)r->macs1);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void report_print_json(const PassReport *r, FILE *f)
{
	fprintf(f, "{\"model\": {\"params_before\": %lld, \"params_after\": %lld, \"nonzero_before\": %lld, "
	           "\"nonzero_after\": %lld, \"macs_before\": %lld, \"macs_after\": %lld},\n \"layers\": [",
	        (long long)r->params0, (long long)r->params1, (long long)r->nnz0, (long long)r->nnz1,
	        (long long)r->macs0, (long long)r->macs1);
	for (int i = 0; i < r->n; i++) {
		const ReportRow *w = &r->rows[i];
		fprintf(f, "%s\n  {\"pass\": ", i ? "," : "");
		json_str(f, w->pass);
		fprintf(f, ", \"layer\": ");
		json_str(f, w->layer);
		fprintf(f, ", \"action\": ");
		json_str(f, w->action);
		fprintf(f, ", \"params_before\": %lld, \"params_after\": %lld, \"nonzero_after\": %lld, "
		           "\"macs_before\": %lld, \"macs_after\": %lld, \"note\": ",
		        (long long)w->params0, (long long)w->params1, (long long)w->nnz1, (long long)w->macs0,
		        (long long)w->macs1);
		json_str(f, w->note);
		fputc('}', f);
	}
	fprintf(f, "]}\n");
}
