/* write.c — the graph IR back to model.json + weights/<name>.bin.
 *
 * The text is canonical, so that load → write → load → write gives the same
 * bytes twice: a fixed key order (type, name, id, shape, datatype, data/value,
 * quantization, tensor_input, tensor_output, attributes), 2-space indentation,
 * lists of numbers and the small attribute/quantization objects on one line,
 * floats in the shortest form that reads back to the same bits. Entries of a
 * block come in execution order: constants no op reads first, then for each
 * op the constants it reads first and a declaration of its output with the
 * inferred shape and datatype (so the file says what every tensor is), then
 * the op. Only attributes that were given are written; defaults stay implicit.
 *
 * Weight files keep their original relative path when it is a plain, safe
 * one, otherwise weights/<sanitized name>.bin; clashes get _2, _3, ... The
 * output folder is built as a mkdtemp sibling and renamed into place at the
 * end, so it appears whole or not at all.
 */
#if !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* mkdtemp(), strcasecmp() */
#endif
#include "frontend.h"
#include "strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void put_str(StrBuf *b, const char *s)
{
	sb_mem(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			sb_mem(b, e, 2);
		} else if (*p == '\n') {
			sb_str(b, "\\n");
		} else if (*p == '\t') {
			sb_str(b, "\\t");
		} else if (*p < 0x20 || *p == 0x7f) {
			sb_fmt(b, "\\u%04x", *p);
		} else {
			sb_mem(b, (const char *)p, 1); /* UTF-8 passes through: the loader has validated it */
		}
	}
	sb_mem(b, "\"", 1);
}

static void indent(StrBuf *b, int level)
{
	for (int i = 0; i < level; i++)
		sb_str(b, "  ");
}

/* ---- numbers ---------------------------------------------------------------- */

/* Element i of a float buffer of type t in the shortest decimal form that
 * reads back to the same value, always with a '.' or an exponent so that it
 * reads back as a real. -1 for inf/nan, which JSON cannot say. */
static int fmt_float(char *out, size_t size, DType t, double v)
{
	if (!isfinite(v))
		return -1;
	for (int p = 1; p <= 17; p++) {
		snprintf(out, size, "%.*g", p, v);
		double r = strtod(out, NULL);
		if (t == DT_FLOAT64) {
			if (r == v)
				break;
		} else {
			unsigned char tmp[8] = {0};
			dtype_set(t, tmp, 0, r);
			if (dtype_get(t, tmp, 0) == v)
				break;
		}
	}
	if (!strpbrk(out, ".eE"))
		strncat(out, ".0", size - strlen(out) - 1);
	return 0;
}

static int fmt_elem(char *out, size_t size, DType t, const void *data, int64_t i)
{
	if (dtype_is_float(t))
		return fmt_float(out, size, t, dtype_get(t, data, i));
	snprintf(out, size, "%lld", (long long)dtype_get_i64(t, data, i));
	return 0;
}

static void put_shape(StrBuf *b, int rank, const int64_t *shape)
{
	sb_str(b, "[");
	for (int i = 0; i < rank; i++)
		sb_fmt(b, i ? ", %lld" : "%lld", (long long)shape[i]);
	sb_str(b, "]");
}

/* ---- weight file names ------------------------------------------------------ */

/* Plain relative paths are kept: [A-Za-z0-9._+-] components, none empty,
 * "." or "..", and not model.json itself. */
static int safe_path(const char *p)
{
	size_t len = strlen(p);
	if (len == 0 || len > 200 || p[0] == '/' || strcasecmp(p, "model.json") == 0)
		return 0;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!(c[i] >= 'a' && c[i] <= 'z') && !(c[i] >= 'A' && c[i] <= 'Z') && !(c[i] >= '0' && c[i] <= '9') &&
			    !strchr("._+-", c[i]))
				return 0;
		c += n;
		if (*c == '/' && !c[1])
			return 0; /* trailing slash */
		if (*c)
			c++;
	}
	return 1;
}

/* Two paths clash when equal (ignoring case, for case-insensitive file
 * systems) or when one is a folder of the other. */
static int clash(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;
	if (strncasecmp(a, b, l) != 0)
		return 0;
	return la == lb || (la < lb ? b[la] == '/' : a[lb] == '/');
}

/* Constants written inline: given as "value" in the first place, and
 * expressible in JSON (no inf/nan). */
static int write_inline(const Tensor *t)
{
	if (!t->data || !t->inline_value)
		return 0;
	if (dtype_is_float(t->dtype)) {
		int64_t n = tensor_numel(t);
		for (int64_t i = 0; i < n; i++)
			if (!isfinite(dtype_get(t->dtype, t->data, i)))
				return 0;
	}
	return 1;
}

/* The .bin path of every constant written to a file, per block and tensor
 * (NULL for the others), unique over the whole model. */
typedef struct Plan {
	char **path;  /* flattened: path[off[bi] + ti] */
	int *off;
	int total;
} Plan;

static void plan_free(Plan *p)
{
	for (int i = 0; i < p->total; i++)
		free(p->path[i]);
	free(p->path);
	free(p->off);
	memset(p, 0, sizeof *p);
}

static int plan_taken(const Plan *p, int upto, const char *s)
{
	for (int i = 0; i < upto; i++)
		if (p->path[i] && clash(p->path[i], s))
			return 1;
	return 0;
}

static int plan_paths(const Model *m, Plan *p, Diag *d)
{
	const char *file = m->path ? m->path : "<model>";
	memset(p, 0, sizeof *p);
	p->off = nnl_calloc((size_t)m->n_blocks + 1, sizeof *p->off);
	if (!p->off)
		goto oom;
	for (int bi = 0; bi < m->n_blocks; bi++)
		p->off[bi + 1] = p->off[bi] + m->blocks[bi].n_tensors;
	p->total = p->off[m->n_blocks];
	p->path = nnl_calloc((size_t)p->total, sizeof *p->path);
	if (!p->path) {
		p->total = 0;
		goto oom;
	}
	for (int bi = 0; bi < m->n_blocks; bi++) {
		const Block *b = &m->blocks[bi];
		for (int ti = 0; ti < b->n_tensors; ti++) {
			const Tensor *t = &b->tensors[ti];
			int k = p->off[bi] + ti;
			if (!t->data || write_inline(t))
				continue;
			if (t->data_path && safe_path(t->data_path) && !plan_taken(p, k, t->data_path)) {
				if (!(p->path[k] = nnl_strdup(t->data_path)))
					goto oom;
				continue;
			}
			/* weights/<name>.bin with unsafe characters replaced */
			char base[128];
			size_t n = 0;
			for (const char *c = t->name; *c && n < 100; c++)
				base[n++] = ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
				             strchr("._+-", *c))
				                ? *c
				                : '_';
			base[n] = 0;
			if (n == 0 || base[0] == '.')
				memmove(base + 1, base, ++n), base[0] = '_';
			char cand[160];
			snprintf(cand, sizeof cand, "weights/%s.bin", base);
			for (int suffix = 2; plan_taken(p, k, cand); suffix++)
				snprintf(cand, sizeof cand, "weights/%s_%d.bin", base, suffix);
			if (!(p->path[k] = nnl_strdup(cand)))
				goto oom;
		}
	}
	return 0;
oom:
	diag_add(d, "%s: out of memory while writing the model", file);
	plan_free(p);
	return -1;
}

/* ---- the text ------------------------------------------------------------- */

typedef struct Writer {
	StrBuf b;
	Diag *d;
	const char *file;
	int failed; /* a value JSON cannot hold; reported */
} Writer;

static void put_float(Writer *w, double v, const char *what, int bi, const char *name)
{
	char num[64];
	if (fmt_float(num, sizeof num, DT_FLOAT64, v) < 0) {
		if (!w->failed)
			diag_add(w->d, "%s: blocks[%d]: %s of '%s' is %g, which JSON cannot represent", w->file, bi, what,
			         name, v);
		w->failed = 1;
		sb_str(&w->b, "0.0");
		return;
	}
	sb_str(&w->b, num);
}

static void key(Writer *w, int lv, const char *k)
{
	sb_str(&w->b, ",\n");
	indent(&w->b, lv);
	sb_fmt(&w->b, "\"%s\": ", k);
}

static void put_tensor(Writer *w, const Tensor *t, const char *path, int lv, int bi)
{
	StrBuf *b = &w->b;
	char num[64];
	indent(b, lv);
	sb_str(b, "{\n");
	indent(b, lv + 1);
	sb_str(b, "\"type\": \"Tensor\"");
	key(w, lv + 1, "name");
	put_str(b, t->name);
	key(w, lv + 1, "shape");
	put_shape(b, t->rank, t->shape);
	key(w, lv + 1, "datatype");
	put_str(b, dtype_name(t->dtype));
	if (path) {
		key(w, lv + 1, "data");
		put_str(b, path);
	} else if (t->data) {
		int64_t n = tensor_numel(t);
		key(w, lv + 1, "value");
		if (n != 1)
			sb_str(b, "[");
		for (int64_t i = 0; i < n; i++) {
			fmt_elem(num, sizeof num, t->dtype, t->data, i); /* finite: write_inline() checked */
			if (i)
				sb_str(b, ", ");
			sb_str(b, num);
		}
		if (n != 1)
			sb_str(b, "]");
	}
	if (t->quant) {
		const Quant *q = t->quant;
		key(w, lv + 1, "quantization");
		sb_str(b, q->n != 1 ? "{\"scale\": [" : "{\"scale\": ");
		for (int i = 0; i < q->n; i++) {
			if (i)
				sb_str(b, ", ");
			put_float(w, q->scale[i], "a quantization scale", bi, t->name);
		}
		sb_str(b, q->n != 1 ? "], \"zero_point\": [" : ", \"zero_point\": ");
		for (int i = 0; i < q->n; i++)
			sb_fmt(b, i ? ", %lld" : "%lld", (long long)q->zero_point[i]);
		if (q->n != 1)
			sb_str(b, "]");
		if (q->axis >= 0)
			sb_fmt(b, ", \"axis\": %d", q->axis);
		sb_str(b, "}");
	}
	sb_str(b, "\n");
	indent(b, lv);
	sb_str(b, "}");
}

static void put_attr(Writer *w, const AttrSpec *s, const AttrValue *a, int bi, const char *opname)
{
	StrBuf *b = &w->b;
	if (!a->set) {
		sb_str(b, "null");
		return;
	}
	switch (s->kind) {
	case ATTR_INT:
		sb_fmt(b, "%lld", (long long)a->i[0]);
		return;
	case ATTR_PAD:
		if (a->s[0]) {
			put_str(b, a->s);
			return;
		}
		/* FALLTHROUGH */
	case ATTR_INTS:
		if (a->n == 1) {
			sb_fmt(b, "%lld", (long long)a->i[0]);
			return;
		}
		sb_str(b, "[");
		for (int i = 0; i < a->n; i++)
			sb_fmt(b, i ? ", %lld" : "%lld", (long long)a->i[i]);
		sb_str(b, "]");
		return;
	case ATTR_FLOAT:
		put_float(w, a->f, s->name, bi, opname);
		return;
	case ATTR_BOOL:
		sb_str(b, a->i[0] ? "true" : "false");
		return;
	case ATTR_STRING:
		put_str(b, a->s);
		return;
	}
}

static void put_node(Writer *w, const Block *blk, const Node *n, int lv, int bi)
{
	StrBuf *b = &w->b;
	const OpInfo *o = op_info(n->op);
	indent(b, lv);
	sb_str(b, "{\n");
	indent(b, lv + 1);
	if (o->flags & OPF_DIRECT) {
		sb_str(b, "\"type\": ");
		put_str(b, o->name);
	} else {
		sb_str(b, "\"type\": \"Layer\"");
		key(w, lv + 1, "name");
		put_str(b, o->name);
	}
	if (n->id) {
		key(w, lv + 1, "id");
		put_str(b, n->id);
	}
	key(w, lv + 1, "tensor_input");
	int list = n->in_is_list || n->n_in != 1;
	if (list)
		sb_str(b, "[");
	for (int i = 0; i < n->n_in; i++) {
		if (i)
			sb_str(b, ", ");
		put_str(b, blk->tensors[n->in[i]].name);
	}
	if (list)
		sb_str(b, "]");
	key(w, lv + 1, "tensor_output");
	if (n->n_out_list)
		sb_str(b, "[");
	put_str(b, blk->tensors[n->out].name);
	if (n->n_out_list)
		sb_str(b, "]");
	int first = 1;
	for (int i = 0; i < o->n_attrs; i++) {
		if (!n->attr_given[i])
			continue;
		if (first)
			key(w, lv + 1, "attributes"), sb_str(b, "{");
		else
			sb_str(b, ", ");
		first = 0;
		put_str(b, o->attrs[i].name);
		sb_str(b, ": ");
		put_attr(w, &o->attrs[i], &n->attrs[i], bi, o->name);
	}
	if (!first)
		sb_str(b, "}");
	sb_str(b, "\n");
	indent(b, lv);
	sb_str(b, "}");
}

static void put_header(Writer *w, int lv, const char *type, const char *name, int in_rank, const int64_t *in_shape,
                       DType in_dt, int out_rank, const int64_t *out_shape, DType out_dt)
{
	StrBuf *b = &w->b;
	indent(b, lv);
	sb_str(b, "{\n");
	indent(b, lv + 1);
	sb_fmt(b, "\"type\": \"%s\"", type);
	key(w, lv + 1, "name");
	put_str(b, name ? name : "");
	key(w, lv + 1, "input_shape");
	put_shape(b, in_rank, in_shape);
	key(w, lv + 1, "input_datatype");
	put_str(b, dtype_name(in_dt));
	key(w, lv + 1, "output_shape");
	put_shape(b, out_rank, out_shape);
	key(w, lv + 1, "output_datatype");
	put_str(b, dtype_name(out_dt));
}

/* Entries of one block in the canonical order (see the top of the file). */
static int put_block(Writer *w, const Block *blk, int bi, const Plan *plan)
{
	StrBuf *b = &w->b;
	char *done = nnl_calloc((size_t)blk->n_tensors, 1), *used = nnl_calloc((size_t)blk->n_tensors, 1);
	if (!done || !used) {
		free(done);
		free(used);
		b->oom = 1;
		return -1;
	}
	put_header(w, 2, "Block", blk->name, blk->in_rank, blk->in_shape, blk->in_dtype, blk->out_rank,
	           blk->out_shape, blk->out_dtype);
	key(w, 3, "layers");
	sb_str(b, "[");
	int first = 1;
	done[blk->x] = 1;
	for (int i = 0; i < blk->n_nodes; i++)
		for (int k = 0; k < blk->nodes[i].n_in; k++)
			used[blk->nodes[i].in[k]] = 1;
#define SEP() (sb_str(b, first ? "\n" : ",\n"), first = 0)
	for (int ti = 0; ti < blk->n_tensors; ti++)
		if (blk->tensors[ti].data && !used[ti] && !done[ti]) {
			SEP();
			put_tensor(w, &blk->tensors[ti], plan->path[plan->off[bi] + ti], 4, bi);
			done[ti] = 1;
		}
	for (int i = 0; i < blk->n_nodes; i++) {
		const Node *n = &blk->nodes[i];
		for (int k = 0; k < n->n_in; k++) {
			int ti = n->in[k];
			if (blk->tensors[ti].data && !done[ti]) {
				SEP();
				put_tensor(w, &blk->tensors[ti], plan->path[plan->off[bi] + ti], 4, bi);
				done[ti] = 1;
			}
		}
		const Tensor *out = &blk->tensors[n->out];
		if (!done[n->out] && !out->data && out->dtype != DT_INVALID) {
			SEP();
			put_tensor(w, out, NULL, 4, bi);
			done[n->out] = 1;
		}
		SEP();
		put_node(w, blk, n, 4, bi);
	}
#undef SEP
	if (!first) {
		sb_str(b, "\n");
		indent(b, 3);
	}
	sb_str(b, "]\n");
	indent(b, 2);
	sb_str(b, "}");
	free(done);
	free(used);
	return 0;
}

static char *model_text(const Model *m, const Plan *plan, Diag *d)
{
	Writer w = {{0}, d, m->path ? m->path : "<model>", 0};
	put_header(&w, 0, "Model", m->name, m->in_rank, m->in_shape, m->in_dtype, m->out_rank, m->out_shape,
	           m->out_dtype);
	key(&w, 1, "blocks");
	sb_str(&w.b, "[");
	for (int bi = 0; bi < m->n_blocks; bi++) {
		sb_str(&w.b, bi ? ",\n" : "\n");
		put_block(&w, &m->blocks[bi], bi, plan);
	}
	sb_str(&w.b, "\n  ]\n}\n");
	if (w.b.oom)
		diag_add(d, "%s: out of memory while writing the model", w.file);
	if (w.b.oom || w.failed) {
		free(w.b.s);
		return NULL;
	}
	return w.b.s;
}

char *json_model_text(const Model *m, Diag *d)
{
	Plan plan;
	if (plan_paths(m, &plan, d) < 0)
		return NULL;
	char *s = model_text(m, &plan, d);
	plan_free(&plan);
	return s;
}

/* ---- the folder ------------------------------------------------------------ */

/* Remove a file or a folder tree; symlinks are removed, never followed. */
static void remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	DIR *dir = opendir(path);
	if (dir) {
		struct dirent *e;
		while ((e = readdir(dir)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			size_t n = strlen(path) + strlen(e->d_name) + 2;
			char *sub = malloc(n);
			if (!sub)
				continue;
			snprintf(sub, n, "%s/%s", path, e->d_name);
			remove_tree(sub);
			free(sub);
		}
		closedir(dir);
	}
	rmdir(path);
}

/* Create dir/rel (a new file, with the folders leading to it). */
static int write_new_file(const char *dir, const char *rel, const void *data, size_t len, Diag *d)
{
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *full = nnl_malloc(n);
	if (!full) {
		diag_add(d, "%s/%s: out of memory", dir, rel);
		return -1;
	}
	snprintf(full, n, "%s/%s", dir, rel);
	for (char *s = full + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = 0;
		int r = mkdir(full, 0755);
		int e = errno;
		*s = '/';
		if (r < 0 && e != EEXIST) {
			diag_add(d, "%s: cannot create its folder: %s", full, strerror(e));
			free(full);
			return -1;
		}
	}
	int fd = open(full, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		diag_add(d, "%s: cannot create: %s", full, strerror(errno));
		free(full);
		return -1;
	}
	const char *p = data;
	while (len > 0) {
		ssize_t wr = write(fd, p, len > ((size_t)1 << 30) ? (size_t)1 << 30 : len);
		if (wr < 0 && errno == EINTR)
			continue;
		if (wr <= 0) {
			diag_add(d, "%s: write failed: %s", full, wr < 0 ? strerror(errno) : "no progress");
			close(fd);
			free(full);
			return -1;
		}
		p += wr;
		len -= (size_t)wr;
	}
	if (close(fd) < 0) {
		diag_add(d, "%s: write failed: %s", full, strerror(errno));
		free(full);
		return -1;
	}
	free(full);
	return 0;
}

int json_write_model(const Model *m, const char *outdir, int force, Diag *d)
{
	Plan plan;
	char *text = NULL, *dir = NULL, *tmp = NULL, *old = NULL;
	int rc = -1, have_tmp = 0;
	struct stat st;

	if (plan_paths(m, &plan, d) < 0)
		return -1;
	if (!(text = model_text(m, &plan, d)))
		goto out;
	/* "out/" and "out" are one folder; the temp sibling must sit beside it */
	size_t len = strlen(outdir);
	while (len > 1 && outdir[len - 1] == '/')
		len--;
	if (len == 0) {
		diag_add(d, "the output folder name is empty");
		goto out;
	}
	if (!(dir = nnl_malloc(len + 1)) || !(tmp = nnl_malloc(len + sizeof ".tmp-XXXXXX")) ||
	    !(old = nnl_malloc(len + sizeof ".old-XXXXXX"))) {
		diag_add(d, "%s: out of memory", outdir);
		goto out;
	}
	memcpy(dir, outdir, len);
	dir[len] = 0;
	int exists = lstat(dir, &st) == 0;
	if (exists && !force) {
		diag_add(d, "%s: already exists; not replaced without force", dir);
		goto out;
	}
	snprintf(tmp, len + sizeof ".tmp-XXXXXX", "%s.tmp-XXXXXX", dir);
	if (!mkdtemp(tmp)) {
		diag_add(d, "%s: cannot create the output folder: %s", dir, strerror(errno));
		goto out;
	}
	have_tmp = 1;
	chmod(tmp, 0755); /* mkdtemp makes it private */
	for (int bi = 0; bi < m->n_blocks; bi++)
		for (int ti = 0; ti < m->blocks[bi].n_tensors; ti++) {
			const char *p = plan.path[plan.off[bi] + ti];
			const Tensor *t = &m->blocks[bi].tensors[ti];
			if (p && write_new_file(tmp, p, t->data, (size_t)t->nbytes, d) < 0)
				goto out;
		}
	if (write_new_file(tmp, "model.json", text, strlen(text), d) < 0)
		goto out;

	/* into place; a replaced folder is moved aside first and removed last */
	int moved = 0;
	if (exists) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(old, len + sizeof ".old-XXXXXX", "%s.old-XXXXXX", dir);
			if (!mkdtemp(old)) {
				diag_add(d, "%s: cannot move the existing folder aside: %s", dir, strerror(errno));
				goto out;
			}
			if (rename(dir, old) < 0) { /* onto the empty folder just made */
				diag_add(d, "%s: cannot move the existing folder aside: %s", dir, strerror(errno));
				rmdir(old);
				goto out;
			}
			moved = 1;
		} else if (unlink(dir) < 0) {
			diag_add(d, "%s: cannot replace it: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (rename(tmp, dir) < 0) {
		diag_add(d, "%s: cannot rename %s into place: %s", dir, tmp, strerror(errno));
		if (moved)
			rename(old, dir);
		goto out;
	}
	have_tmp = 0;
	if (moved)
		remove_tree(old);
	rc = 0;
out:
	if (have_tmp)
		remove_tree(tmp);
	free(text);
	free(dir);
	free(tmp);
	free(old);
	plan_free(&plan);
	return rc;
}
