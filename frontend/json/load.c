/* load.c — model.json (the JSON model IR, DESIGN.md §1) into the graph IR.
 *
 * One pass over the JSON tree, block by block, layer by layer, in file order.
 * Invariants kept while reading a block:
 *   - tensor 0 is X (b->x), created before any entry; no entry may define it;
 *   - every tensor is defined once: X, a Tensor entry (a constant, or an
 *     activation declaration that exactly one later op must produce), or the
 *     output of an op that creates it (SSA);
 *   - an op may read only tensors available at its position: X, constants and
 *     outputs of earlier ops (prod[t] >= 0).
 * Nothing from the file is trusted: every key is checked against the keys the
 * object may have, every number against its range, shapes are overflow-checked
 * and weight files are resolved with realpath() and must stay inside the
 * model's folder and have the exact byte size. The first error stops the load;
 * the message names the file, the JSON path and what was expected. Shapes,
 * arity, datatypes and block chaining are left to model_infer().
 */
#if !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* realpath() */
#endif
#include "frontend.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Loader {
	const char *file;    /* the model file, for messages */
	const char *basedir; /* weight paths are relative to it */
	char *realbase;      /* realpath(basedir), computed on first use */
	Diag *d;
	Model *m;
	int bi;              /* current block */
	int *prod;           /* per tensor of the current block: layer that produced it, -1 if none yet */
	int cap_prod;
} Loader;

/* Producer marks for X and constants: available from the start. */
#define PROD_X (-2)
#define PROD_CONST (-3)

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int err(Loader *L, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_add(L->d, "%s: %s", L->file, msg);
	return -1;
}

static int oom(Loader *L, const char *where)
{
	return err(L, "%s: out of memory", where);
}

/* ---- describing JSON values in messages ---------------------------------- */

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* "a string (\"abc\")": the kind and a short excerpt of the value. */
static const char *json_desc(const json_t *v, char *buf, size_t size)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s) {
		snprintf(buf, size, "%s", json_kind(v));
		return buf;
	}
	if (strlen(s) > 40)
		snprintf(buf, size, "%s (%.37s...)", json_kind(v), s);
	else
		snprintf(buf, size, "%s (%s)", json_kind(v), s);
	free(s);
	return buf;
}

/* ---- keys ---------------------------------------------------------------- */

static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	int prev[64], cur[64];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int c = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			if (prev[j] + 1 < c)
				c = prev[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			cur[j] = c;
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

/* The closest of names[0..n) to s if it is close enough to be a typo
 * (case is ignored: "Relu" is a typo of "ReLU"). */
static const char *did_you_mean(const char *s, const char *const *names, int n)
{
	const char *best = NULL;
	int bd = 99;
	for (int i = 0; i < n; i++) {
		int dist = edit_distance(s, names[i]);
		if (dist < bd) {
			bd = dist;
			best = names[i];
		}
	}
	size_t len = strlen(s);
	return bd <= (len < 6 ? 1 : 2) ? best : NULL;
}

static void join(char *buf, size_t size, const char *const *names, int n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < n && k < size; i++) {
		int w = snprintf(buf + k, size - k, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

/* Every key of obj must be in keys (NULL-terminated) or be "comment". */
static int check_keys(Loader *L, const char *where, json_t *obj, const char *const *keys)
{
	const char *key;
	json_t *v;
	int n = 0;
	while (keys[n])
		n++;
	json_object_foreach(obj, key, v) {
		int ok = strcmp(key, "comment") == 0;
		for (int i = 0; i < n && !ok; i++)
			ok = strcmp(key, keys[i]) == 0;
		if (ok)
			continue;
		char list[512];
		join(list, sizeof list, keys, n);
		const char *near = did_you_mean(key, keys, n);
		if (near)
			return err(L, "%s: unknown key '%s', did you mean '%s'? (expected %s or \"comment\")", where, key,
			           near, list);
		return err(L, "%s: unknown key '%s', expected %s or \"comment\"", where, key, list);
	}
	return 0;
}

static int get_string(Loader *L, const char *where, json_t *obj, const char *key, int required,
                      const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v) {
		if (required)
			return err(L, "%s: missing \"%s\", expected a string", where, key);
		return 0;
	}
	char db[96];
	if (!json_is_string(v))
		return err(L, "%s: \"%s\" is %s, expected a string", where, key, json_desc(v, db, sizeof db));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err(L, "%s: \"%s\" contains a NUL character", where, key);
	*out = json_string_value(v);
	return 0;
}

/* ---- numbers, shapes, datatypes ------------------------------------------ */

static DType parse_dtype(Loader *L, const char *where, json_t *obj, const char *key)
{
	const char *s;
	if (get_string(L, where, obj, key, 1, &s) < 0)
		return DT_INVALID;
	DType t = dtype_from_name(s);
	if (t == DT_INVALID) {
		char list[256];
		const char *names[DT_COUNT + 1];
		int n = 0;
		for (int i = 1; i < DT_COUNT; i++)
			names[n++] = dtype_name((DType)i);
		names[n++] = "bool";
		join(list, sizeof list, names, n);
		const char *near = did_you_mean(s, names, n);
		if (near)
			err(L, "%s: unknown datatype '%s', did you mean '%s'? (expected one of %s)", where, s, near, list);
		else
			err(L, "%s: unknown datatype '%s', expected one of %s", where, s, list);
	}
	return t;
}

/* A list of positive integers: the rank, dims and their checked product. */
static int parse_shape(Loader *L, const char *where, json_t *obj, const char *key, int *rank, int64_t *shape)
{
	json_t *v = json_object_get(obj, key);
	char db[96];
	if (!v)
		return err(L, "%s: missing \"%s\", expected a list of positive integers such as [1, 28, 28]", where,
		           key);
	if (!json_is_array(v))
		return err(L, "%s.%s: is %s, expected a list of positive integers such as [1, 28, 28]", where, key,
		           json_desc(v, db, sizeof db));
	size_t n = json_array_size(v);
	if (n > NNL_MAX_RANK)
		return err(L, "%s.%s: rank %zu is more than %d dimensions, the most supported", where, key, n,
		           NNL_MAX_RANK);
	int64_t numel = 1;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		if (!json_is_integer(e))
			return err(L, "%s.%s[%zu]: dimension is %s, expected a positive integer", where, key, i,
			           json_desc(e, db, sizeof db));
		json_int_t x = json_integer_value(e);
		if (x <= 0)
			return err(L, "%s.%s[%zu]: dimension is %lld, expected a positive integer", where, key, i,
			           (long long)x);
		shape[i] = (int64_t)x;
		if (nnl_mul_i64(numel, shape[i], &numel) < 0 || numel > NNL_MAX_ELEMENTS) {
			char sb[256];
			for (size_t j = 0; j < n; j++) {
				json_t *dj = json_array_get(v, j);
				shape[j] = json_is_integer(dj) ? (int64_t)json_integer_value(dj) : 0;
			}
			return err(L, "%s.%s: shape %s has more than 2^40 elements, the most supported", where, key,
			           shape_str((int)n, shape, sb, sizeof sb));
		}
	}
	*rank = (int)n;
	return 0;
}

/* The range of an integer datatype (bool is 0..1). */
static void int_range(DType t, int64_t *lo, int64_t *hi)
{
	int bits = dtype_bits(t);
	if (t == DT_INT1) {
		*lo = 0;
		*hi = 1;
	} else if (bits >= 64) {
		*lo = INT64_MIN;
		*hi = INT64_MAX;
	} else if (dtype_is_signed(t)) {
		*lo = -(INT64_C(1) << (bits - 1));
		*hi = (INT64_C(1) << (bits - 1)) - 1;
	} else {
		*lo = 0;
		*hi = (INT64_C(1) << bits) - 1;
	}
}

/* An integral JSON number (an integer, or a real with no fraction) in
 * [lo, hi]. what names the value in messages. */
static int parse_integral(Loader *L, const char *where, const char *what, json_t *v, DType t, int64_t *out)
{
	int64_t lo, hi;
	int_range(t, &lo, &hi);
	char db[96];
	int64_t x;
	if (json_is_integer(v)) {
		x = (int64_t)json_integer_value(v);
	} else if (json_is_real(v)) {
		double f = json_real_value(v);
		if (f != floor(f))
			return err(L, "%s: %s is %s, expected an integer for %s", where, what, json_desc(v, db, sizeof db),
			           dtype_name(t));
		if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
			return err(L, "%s: %s is %s, out of range for %s [%lld, %lld]", where, what,
			           json_desc(v, db, sizeof db), dtype_name(t), (long long)lo, (long long)hi);
		x = (int64_t)f;
	} else if (json_is_boolean(v) && t == DT_INT1) {
		x = json_is_true(v);
	} else {
		return err(L, "%s: %s is %s, expected an integer for %s", where, what, json_desc(v, db, sizeof db),
		           dtype_name(t));
	}
	if (x < lo || x > hi)
		return err(L, "%s: %s is %lld, out of range for %s [%lld, %lld]", where, what, (long long)x,
		           dtype_name(t), (long long)lo, (long long)hi);
	*out = x;
	return 0;
}

/* Element i of a constant from a JSON number. */
static int set_element(Loader *L, const char *where, const char *what, Tensor *t, int64_t i, json_t *v)
{
	char db[96];
	if (dtype_is_float(t->dtype)) {
		if (!json_is_number(v))
			return err(L, "%s: %s is %s, expected a number", where, what, json_desc(v, db, sizeof db));
		double x = json_number_value(v);
		dtype_set(t->dtype, t->data, i, x);
		if (isinf(dtype_get(t->dtype, t->data, i)))
			return err(L, "%s: %s is %g, out of range for %s", where, what, x, dtype_name(t->dtype));
		return 0;
	}
	int64_t x;
	if (parse_integral(L, where, what, v, t->dtype, &x) < 0)
		return -1;
	if (t->dtype == DT_INT64)
		memcpy((char *)t->data + i * 8, &x, 8); /* exact beyond 2^53, which a double is not */
	else
		dtype_set(t->dtype, t->data, i, (double)x);
	return 0;
}

/* "value": one number (any shape with one element) or a flat list of numel. */
static int parse_value(Loader *L, const char *where, Tensor *t, json_t *v)
{
	int64_t numel = tensor_numel(t);
	int64_t nbytes = dtype_bytes(t->dtype, numel);
	char sb[256], db[96];
	shape_str(t->rank, t->shape, sb, sizeof sb);
	if (json_is_array(v)) {
		if ((int64_t)json_array_size(v) != numel)
			return err(L, "%s: \"value\" has %zu numbers, expected %lld (shape %s)", where, json_array_size(v),
			           (long long)numel, sb);
	} else if (!json_is_number(v) && !json_is_boolean(v)) {
		if (numel == 1)
			return err(L, "%s: \"value\" is %s, expected a number (shape %s)", where, json_desc(v, db, sizeof db), sb);
		return err(L, "%s: \"value\" is %s, expected a flat list of %lld numbers (shape %s)", where,
		           json_desc(v, db, sizeof db), (long long)numel, sb);
	} else if (numel != 1) {
		return err(L, "%s: \"value\" is one number but shape %s has %lld elements, expected a list of %lld numbers",
		           where, sb, (long long)numel, (long long)numel);
	}
	t->data = nnl_calloc(1, (size_t)nbytes);
	if (!t->data)
		return oom(L, where);
	t->nbytes = nbytes;
	t->inline_value = 1;
	if (!json_is_array(v))
		return set_element(L, where, "\"value\"", t, 0, v);
	for (int64_t i = 0; i < numel; i++) {
		char what[48];
		snprintf(what, sizeof what, "\"value\"[%lld]", (long long)i);
		if (set_element(L, where, what, t, i, json_array_get(v, (size_t)i)) < 0)
			return -1;
	}
	return 0;
}

/* "quantization": {"scale": s | [s...], "zero_point": z | [z...], "axis": a}. */
static int parse_quant(Loader *L, const char *where, Tensor *t, json_t *q)
{
	static const char *const keys[] = {"scale", "zero_point", "axis", NULL};
	char w[320], db[96];
	snprintf(w, sizeof w, "%s.quantization", where);
	if (!json_is_object(q))
		return err(L, "%s: is %s, expected an object with scale, zero_point and axis", w,
		           json_desc(q, db, sizeof db));
	if (check_keys(L, w, q, keys) < 0)
		return -1;
	json_t *js = json_object_get(q, "scale"), *jz = json_object_get(q, "zero_point"),
	       *ja = json_object_get(q, "axis");
	if (!js)
		return err(L, "%s: missing \"scale\", expected a positive number or a list of them", w);
	size_t ns = json_is_array(js) ? json_array_size(js) : 1;
	size_t nz = !jz ? 1 : json_is_array(jz) ? json_array_size(jz) : 1;
	if (ns == 0 || nz == 0)
		return err(L, "%s: %s is an empty list, expected one value or one per channel", w,
		           ns == 0 ? "scale" : "zero_point");
	size_t n = ns > nz ? ns : nz;
	if ((ns != 1 && ns != n) || (nz != 1 && nz != n))
		return err(L, "%s: scale has %zu values and zero_point %zu, expected the same number (or 1)", w, ns,
		           nz);
	int axis = -1;
	if (ja) {
		int64_t a;
		if (!json_is_integer(ja))
			return err(L, "%s.axis: is %s, expected an integer", w, json_desc(ja, db, sizeof db));
		if (norm_axis((int64_t)json_integer_value(ja), t->rank, &a) < 0)
			return err(L, "%s.axis: %lld is out of range for rank %d", w, (long long)json_integer_value(ja),
			           t->rank);
		axis = (int)a;
		if (n != 1 && (int64_t)n != t->shape[axis])
			return err(L, "%s: %zu values but shape[%d] is %lld, expected 1 or %lld values", w, n, axis,
			           (long long)t->shape[axis], (long long)t->shape[axis]);
	} else if (n > 1) {
		return err(L, "%s: %zu values per channel but no \"axis\", expected the channel axis", w, n);
	}
	if (n > (size_t)NNL_MAX_ELEMENTS)
		return err(L, "%s: too many values", w);
	Quant *qu = nnl_calloc(1, sizeof *qu);
	if (!qu)
		return oom(L, w);
	t->quant = qu; /* owned by the tensor from here on */
	qu->n = (int)n;
	qu->axis = axis;
	qu->scale = nnl_calloc(n, sizeof *qu->scale);
	qu->zero_point = nnl_calloc(n, sizeof *qu->zero_point);
	if (!qu->scale || !qu->zero_point)
		return oom(L, w);
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_is_array(js) ? json_array_get(js, ns == 1 ? 0 : i) : js;
		if (!json_is_number(s) || !(json_number_value(s) > 0))
			return err(L, "%s.scale: %s, expected a positive number", w, json_desc(s, db, sizeof db));
		qu->scale[i] = json_number_value(s);
		if (jz) {
			json_t *z = json_is_array(jz) ? json_array_get(jz, nz == 1 ? 0 : i) : jz;
			int64_t zp;
			DType zt = dtype_is_int(t->dtype) ? t->dtype : DT_INT64;
			if (!json_is_integer(z))
				return err(L, "%s.zero_point: %s, expected an integer", w, json_desc(z, db, sizeof db));
			if (parse_integral(L, w, "zero_point", z, zt, &zp) < 0)
				return -1;
			qu->zero_point[i] = zp;
		}
	}
	return 0;
}

/* ---- weight files ---------------------------------------------------------- */

/* The model folder's realpath, or NULL after reporting. */
static const char *real_base(Loader *L, const char *where)
{
	if (!L->realbase) {
		char *r = realpath(L->basedir, NULL);
		if (!r) {
			err(L, "%s: cannot resolve the model's folder '%s': %s", where, L->basedir, strerror(errno));
			return NULL;
		}
		L->realbase = nnl_strdup(r);
		free(r);
		if (!L->realbase) {
			oom(L, where);
			return NULL;
		}
	}
	return L->realbase;
}

/* Read "data": a path relative to the model folder that stays inside it
 * (no absolute path, no '..', no symlink leading out), of exactly the size
 * the shape and datatype need. */
static int read_weights(Loader *L, const char *where, Tensor *t, const char *rel)
{
	char sb[256];
	int64_t nbytes = dtype_bytes(t->dtype, tensor_numel(t));
	if (!rel[0])
		return err(L, "%s: \"data\" is empty, expected a path relative to the model's folder", where);
	if (rel[0] == '/')
		return err(L, "%s: weight path '%s' is absolute, expected a path relative to the model's folder", where,
		           rel);
	for (const char *p = rel; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return err(L, "%s: weight path '%s' contains '..', expected a path inside the model's folder",
			           where, rel);
		p += len;
		while (*p == '/')
			p++;
	}
	const char *base = real_base(L, where);
	if (!base)
		return -1;
	size_t flen = strlen(L->basedir) + strlen(rel) + 2;
	char *full = nnl_malloc(flen);
	if (!full)
		return oom(L, where);
	snprintf(full, flen, "%s/%s", L->basedir, rel);
	char *real = realpath(full, NULL);
	int rc = -1, fd = -1;
	if (!real) {
		if (errno == ENOENT || errno == ENOTDIR)
			err(L, "%s: weight file '%s' not found (looked for %s)", where, rel, full);
		else
			err(L, "%s: weight file '%s': %s", where, rel, strerror(errno));
		goto out;
	}
	size_t bl = strlen(base);
	int inside = strcmp(base, "/") == 0 ? 1 : strncmp(real, base, bl) == 0 && real[bl] == '/';
	if (!inside) {
		err(L, "%s: weight path '%s' resolves to '%s', outside the model's folder '%s' (symlinks may not leave it)",
		    where, rel, real, base);
		goto out;
	}
	fd = open(real, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		err(L, "%s: cannot open weight file '%s': %s", where, rel, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err(L, "%s: weight file '%s' is not a regular file", where, rel);
		goto out;
	}
	if ((int64_t)st.st_size != nbytes) {
		err(L, "%s: %s is %lld bytes, expected %lld (shape %s %s)", where, rel, (long long)st.st_size,
		    (long long)nbytes, shape_str(t->rank, t->shape, sb, sizeof sb), dtype_name(t->dtype));
		goto out;
	}
	t->data = nnl_malloc((size_t)nbytes);
	if (!t->data) {
		oom(L, where);
		goto out;
	}
	t->nbytes = nbytes;
	for (int64_t got = 0; got < nbytes;) {
		size_t chunk = nbytes - got > (1 << 30) ? (size_t)1 << 30 : (size_t)(nbytes - got);
		ssize_t r = read(fd, (char *)t->data + got, chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err(L, "%s: reading weight file '%s': %s", where, rel, r < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += r;
	}
	t->data_path = nnl_strdup(rel);
	if (!t->data_path) {
		oom(L, where);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(real);
	free(full);
	return rc;
}

/* ---- entries --------------------------------------------------------------- */

static int set_prod(Loader *L, int ti, int v)
{
	if (ti >= L->cap_prod) {
		int cap = L->cap_prod ? L->cap_prod * 2 : 16;
		while (cap <= ti)
			cap *= 2;
		int *p = nnl_malloc((size_t)cap * sizeof *p);
		if (!p)
			return -1;
		if (L->cap_prod)
			memcpy(p, L->prod, (size_t)L->cap_prod * sizeof *p);
		for (int i = L->cap_prod; i < cap; i++)
			p[i] = -1;
		free(L->prod);
		L->prod = p;
		L->cap_prod = cap;
	}
	L->prod[ti] = v;
	return 0;
}

static int prod_of(const Loader *L, int ti) { return ti < L->cap_prod ? L->prod[ti] : -1; }

/* Where a tensor came from, for messages: " (layers[3])". */
static const char *origin(const Loader *L, const Block *b, int ti, char *buf, size_t size)
{
	const Tensor *t = &b->tensors[ti];
	int p = prod_of(L, ti);
	if (p == PROD_X)
		snprintf(buf, size, "the block input");
	else if (p >= 0)
		snprintf(buf, size, "written by layers[%d]", p);
	else if (t->data)
		snprintf(buf, size, "a constant, layers[%d]", t->decl_layer);
	else
		snprintf(buf, size, "declared at layers[%d]", t->decl_layer);
	return buf;
}

static int parse_tensor(Loader *L, Block *b, int li, json_t *e, const char *path)
{
	static const char *const keys[] = {"type", "name", "shape", "datatype", "data", "value", "quantization", NULL};
	if (check_keys(L, path, e, keys) < 0)
		return -1;
	const char *name, *data;
	if (get_string(L, path, e, "name", 1, &name) < 0)
		return -1;
	char where[256], ob[64];
	snprintf(where, sizeof where, "%s ('%.100s')", path, name);
	if (strcmp(name, "X") == 0)
		return err(L, "%s: 'X' is the block input, it cannot be redefined", where);
	if (!name[0])
		return err(L, "%s: \"name\" is empty, expected a tensor name", where);
	int old = block_find_tensor(b, name);
	if (old >= 0)
		return err(L, "%s: duplicate tensor '%s', already defined (%s)", where, name, origin(L, b, old, ob, sizeof ob));
	json_t *jv = json_object_get(e, "value"), *jq = json_object_get(e, "quantization");
	if (get_string(L, where, e, "data", 0, &data) < 0)
		return -1;
	if (data && jv)
		return err(L, "%s: has both \"data\" and \"value\", expected at most one", where);
	if ((data || jv) && strcmp(name, "Y") == 0)
		return err(L, "%s: 'Y' is the block output, it cannot be a constant", where);
	int rank;
	int64_t shape[NNL_MAX_RANK];
	if (parse_shape(L, path, e, "shape", &rank, shape) < 0)
		return -1;
	DType dt = parse_dtype(L, where, e, "datatype");
	if (dt == DT_INVALID)
		return -1;
	int ti = block_add_tensor(b, name);
	if (ti < 0 || set_prod(L, ti, data || jv ? PROD_CONST : -1) < 0)
		return oom(L, where);
	Tensor *t = &b->tensors[ti];
	t->dtype = dt;
	t->rank = rank;
	memcpy(t->shape, shape, sizeof shape);
	t->declared = 1;
	t->decl_layer = li;
	if (jq && parse_quant(L, where, t, jq) < 0)
		return -1;
	if (data)
		return read_weights(L, where, t, data);
	if (jv)
		return parse_value(L, where, t, jv);
	return 0;
}

/* The same code path parses given attributes and the defaults of ops.def. */
static int parse_attr(const OpCtx *c, const AttrSpec *s, json_t *v, AttrValue *a)
{
	char db[96];
	memset(a, 0, sizeof *a);
	if (json_is_null(v)) {
		if (s->def && strcmp(s->def, "null") == 0)
			return 0;
		op_error(c, "attribute '%s' is null, expected %s", s->name, attr_kind_name(s->kind));
		return -1;
	}
	switch (s->kind) {
	case ATTR_INT:
		if (!json_is_integer(v))
			break;
		a->i[0] = json_integer_value(v);
		a->n = 1;
		a->set = 1;
		return 0;
	case ATTR_PAD:
		if (json_is_string(v)) {
			const char *str = json_string_value(v);
			if (strcmp(str, "same") != 0 && strcmp(str, "valid") != 0) {
				op_error(c, "attribute '%s' is \"%.40s\", expected %s", s->name, str, attr_kind_name(s->kind));
				return -1;
			}
			snprintf(a->s, sizeof a->s, "%s", str);
			a->set = 1;
			return 0;
		}
		/* integers and lists as for INTS */
		/* fall through */
	case ATTR_INTS:
		if (json_is_integer(v)) {
			a->i[0] = json_integer_value(v);
			a->n = 1;
			a->set = 1;
			return 0;
		}
		if (!json_is_array(v))
			break;
		if (json_array_size(v) < 1 || json_array_size(v) > NNL_MAX_ATTR_INTS) {
			op_error(c, "attribute '%s' has %zu values, expected 1 to %d", s->name, json_array_size(v),
			         NNL_MAX_ATTR_INTS);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *x = json_array_get(v, i);
			if (!json_is_integer(x)) {
				op_error(c, "attribute '%s'[%zu] is %s, expected an integer", s->name, i,
				         json_desc(x, db, sizeof db));
				return -1;
			}
			a->i[i] = json_integer_value(x);
		}
		a->n = (int)json_array_size(v);
		a->set = 1;
		return 0;
	case ATTR_FLOAT:
		if (!json_is_number(v))
			break;
		a->f = json_number_value(v);
		a->set = 1;
		return 0;
	case ATTR_BOOL:
		if (!json_is_boolean(v))
			break;
		a->i[0] = json_is_true(v);
		a->n = 1;
		a->set = 1;
		return 0;
	case ATTR_STRING:
		if (!json_is_string(v))
			break;
		if (json_string_length(v) >= sizeof a->s || strlen(json_string_value(v)) != json_string_length(v)) {
			op_error(c, "attribute '%s' is \"%.40s\", expected a string of at most %zu characters", s->name,
			         json_string_value(v), sizeof a->s - 1);
			return -1;
		}
		memcpy(a->s, json_string_value(v), json_string_length(v) + 1);
		a->set = 1;
		return 0;
	}
	op_error(c, "attribute '%s' is %s, expected %s", s->name, json_desc(v, db, sizeof db),
	         attr_kind_name(s->kind));
	return -1;
}

static int parse_attrs(Loader *L, const OpCtx *c, Node *n, json_t *ja)
{
	const OpInfo *o = op_info(n->op);
	char db[96];
	if (ja && !json_is_object(ja)) {
		op_error(c, "\"attributes\" is %s, expected an object", json_desc(ja, db, sizeof db));
		return -1;
	}
	if (ja) {
		const char *key;
		json_t *v;
		json_object_foreach(ja, key, v) {
			int found = strcmp(key, "comment") == 0;
			for (int i = 0; i < o->n_attrs && !found; i++)
				found = strcmp(o->attrs[i].name, key) == 0;
			if (found)
				continue;
			if (o->n_attrs == 0) {
				op_error(c, "unknown attribute '%s': %s has no attributes", key, o->name);
				return -1;
			}
			const char *names[NNL_MAX_ATTRS];
			for (int i = 0; i < o->n_attrs; i++)
				names[i] = o->attrs[i].name;
			char list[256];
			join(list, sizeof list, names, o->n_attrs);
			const char *near = did_you_mean(key, names, o->n_attrs);
			if (near)
				op_error(c, "unknown attribute '%s', did you mean '%s'? (%s has %s)", key, near, o->name, list);
			else
				op_error(c, "unknown attribute '%s', expected one of %s", key, list);
			return -1;
		}
	}
	for (int i = 0; i < o->n_attrs; i++) {
		const AttrSpec *s = &o->attrs[i];
		json_t *v = ja ? json_object_get(ja, s->name) : NULL;
		if (v) {
			n->attr_given[i] = 1;
			if (parse_attr(c, s, v, &n->attrs[i]) < 0)
				return -1;
			continue;
		}
		if (!s->def) {
			op_error(c, "missing required attribute '%s' (%s: %s)", s->name, attr_kind_name(s->kind), s->doc);
			return -1;
		}
		json_error_t je;
		json_t *dv = json_loads(s->def, JSON_DECODE_ANY, &je);
		if (!dv)
			return err(L, "blocks[%d].layers[%d]: cannot parse the default of attribute '%s' (%s)", c->block,
			           n->layer, s->name, je.text);
		int rc = parse_attr(c, s, dv, &n->attrs[i]);
		json_decref(dv);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static const char *op_names_list(char *buf, size_t size, int direct)
{
	const char *names[OP_COUNT];
	int n = 0;
	for (int op = 1; op < OP_COUNT; op++) {
		const OpInfo *o = op_info((OpKind)op);
		if (!!(o->flags & OPF_DIRECT) == !!direct)
			names[n++] = o->name;
	}
	join(buf, size, names, n);
	return buf;
}

static const char *nearest_op(const char *s)
{
	const char *names[OP_COUNT];
	int n = 0;
	for (int op = 1; op < OP_COUNT; op++)
		if (!(op_info((OpKind)op)->flags & OPF_DIRECT))
			names[n++] = op_info((OpKind)op)->name;
	return did_you_mean(s, names, n);
}

/* A tensor name in tensor_input/tensor_output: a string. */
static const char *tensor_name(const OpCtx *c, json_t *v, const char *key, size_t i, int listed)
{
	char db[96];
	if (!json_is_string(v) || !json_string_value(v)[0] ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		if (listed)
			op_error(c, "\"%s\"[%zu] is %s, expected a tensor name", key, i, json_desc(v, db, sizeof db));
		else
			op_error(c, "\"%s\" is %s, expected a tensor name or a list of them", key, json_desc(v, db, sizeof db));
		return NULL;
	}
	return json_string_value(v);
}

static int parse_layer(Loader *L, Block *b, int li, json_t *e, const char *path, const char *type)
{
	static const char *const keys[] = {"type", "name", "id", "tensor_input", "tensor_output", "attributes", NULL};
	char list[1024], ob[64];
	OpKind op;
	const char *name, *id;
	if (get_string(L, path, e, "name", 0, &name) < 0 || get_string(L, path, e, "id", 0, &id) < 0)
		return -1;
	if (strcmp(type, "Layer") == 0) {
		if (!name)
			return err(L, "%s: Layer has no \"name\", expected an op such as Conv2d (one of %s)", path,
			           op_names_list(list, sizeof list, 0));
		op = op_from_name(name, 0);
		if (op == OP_INVALID) {
			const char *near = nearest_op(name);
			if (near)
				return err(L, "%s: unknown op '%s', did you mean '%s'? (expected one of %s)", path, name, near,
				           op_names_list(list, sizeof list, 0));
			return err(L, "%s: unknown op '%s', expected one of %s", path, name,
			           op_names_list(list, sizeof list, 0));
		}
	} else {
		op = op_from_name(type, 1);
		if (op == OP_INVALID)
			return err(L, "%s: unknown entry type '%s', expected \"Tensor\", \"Layer\" or a direct op (%s)", path,
			           type, op_names_list(list, sizeof list, 1));
		if (name)
			return err(L, "%s: the direct op '%s' has a \"name\" ('%s'); direct ops are named by \"type\", use \"id\" to label them",
			           path, type, name);
	}
	if (check_keys(L, path, e, keys) < 0)
		return -1;
	Node *n = block_add_node(b);
	if (!n)
		return oom(L, path);
	n->op = op;
	n->layer = li;
	n->out = -1;
	if (id && !(n->id = nnl_strdup(id)))
		return oom(L, path);
	OpCtx c = {L->d, L->file, L->bi, n};

	/* inputs: defined and available (X, a constant or the output of an earlier op) */
	json_t *ji = json_object_get(e, "tensor_input"), *jo = json_object_get(e, "tensor_output");
	if (!ji) {
		op_error(&c, "missing \"tensor_input\", expected a tensor name or a list of them");
		return -1;
	}
	size_t nin = json_is_array(ji) ? json_array_size(ji) : 1;
	n->in_is_list = json_is_array(ji);
	if (nin == 0) {
		op_error(&c, "\"tensor_input\" is an empty list, expected at least one tensor name");
		return -1;
	}
	if (nin > 1u << 20) {
		op_error(&c, "\"tensor_input\" has %zu names, too many", nin);
		return -1;
	}
	n->in = nnl_malloc(nin * sizeof *n->in);
	if (!n->in)
		return oom(L, path);
	for (size_t i = 0; i < nin; i++) {
		const char *s = tensor_name(&c, n->in_is_list ? json_array_get(ji, i) : ji, "tensor_input", i,
		                            n->in_is_list);
		if (!s)
			return -1;
		int ti = block_find_tensor(b, s);
		if (ti < 0) {
			op_error(&c, "input '%s' is not defined (expected a Tensor entry or the output of an earlier layer)", s);
			return -1;
		}
		if (prod_of(L, ti) == -1) {
			op_error(&c, "input '%s' is used before it is written (declared at layers[%d]; expected the output of an earlier layer)",
			         s, b->tensors[ti].decl_layer);
			return -1;
		}
		n->in[i] = ti;
		n->n_in++;
	}

	/* output: a new tensor, or a declared one not yet written */
	if (!jo) {
		op_error(&c, "missing \"tensor_output\", expected a tensor name");
		return -1;
	}
	json_t *jn = jo;
	if (json_is_array(jo)) {
		if (json_array_size(jo) != 1) {
			op_error(&c, "\"tensor_output\" has %zu names, expected exactly one", json_array_size(jo));
			return -1;
		}
		n->n_out_list = 1;
		jn = json_array_get(jo, 0);
	}
	const char *s = tensor_name(&c, jn, "tensor_output", 0, n->n_out_list);
	if (!s)
		return -1;
	int ti = block_find_tensor(b, s);
	if (ti >= 0 && prod_of(L, ti) != -1) {
		if (prod_of(L, ti) == PROD_X)
			op_error(&c, "output 'X' is the block input, it cannot be written");
		else
			op_error(&c, "output '%s' is already defined (%s); each tensor is written by one layer only", s,
			         origin(L, b, ti, ob, sizeof ob));
		return -1;
	}
	if (ti < 0) {
		ti = block_add_tensor(b, s);
		if (ti < 0)
			return oom(L, path);
		b->tensors[ti].decl_layer = -1;
	}
	if (set_prod(L, ti, li) < 0)
		return oom(L, path);
	n->out = ti;
	return parse_attrs(L, &c, n, json_object_get(e, "attributes"));
}

/* The header fields shared by Model and Block. */
static int parse_header(Loader *L, const char *where, json_t *o, const char *type, char **name, int *in_rank,
                        int64_t *in_shape, DType *in_dt, int *out_rank, int64_t *out_shape, DType *out_dt)
{
	const char *t, *nm;
	if (get_string(L, where, o, "type", 1, &t) < 0)
		return -1;
	if (strcmp(t, type) != 0)
		return err(L, "%s: \"type\" is \"%.40s\", expected \"%s\"", where, t, type);
	if (get_string(L, where, o, "name", 1, &nm) < 0)
		return -1;
	if (parse_shape(L, where, o, "input_shape", in_rank, in_shape) < 0)
		return -1;
	if ((*in_dt = parse_dtype(L, where, o, "input_datatype")) == DT_INVALID)
		return -1;
	if (parse_shape(L, where, o, "output_shape", out_rank, out_shape) < 0)
		return -1;
	if ((*out_dt = parse_dtype(L, where, o, "output_datatype")) == DT_INVALID)
		return -1;
	if (!(*name = nnl_strdup(nm)))
		return oom(L, where);
	return 0;
}

static int parse_block(Loader *L, Block *b, json_t *jb)
{
	static const char *const keys[] = {"type", "name", "input_shape", "input_datatype", "output_shape",
	                                   "output_datatype", "layers", NULL};
	char where[64], path[96], db[96];
	snprintf(where, sizeof where, "blocks[%d]", L->bi);
	if (!json_is_object(jb))
		return err(L, "%s: is %s, expected a Block object", where, json_desc(jb, db, sizeof db));
	if (parse_header(L, where, jb, "Block", &b->name, &b->in_rank, b->in_shape, &b->in_dtype, &b->out_rank,
	                 b->out_shape, &b->out_dtype) < 0)
		return -1;
	if (check_keys(L, where, jb, keys) < 0)
		return -1;
	json_t *layers = json_object_get(jb, "layers");
	if (!layers)
		return err(L, "%s: missing \"layers\", expected a list of Tensor entries and layers", where);
	if (!json_is_array(layers))
		return err(L, "%s.layers: is %s, expected a list of Tensor entries and layers", where,
		           json_desc(layers, db, sizeof db));
	if (json_array_size(layers) > (1u << 24))
		return err(L, "%s.layers: %zu entries, too many", where, json_array_size(layers));

	/* X first: the block input */
	for (int i = 0; i < L->cap_prod; i++)
		L->prod[i] = -1;
	b->x = block_add_tensor(b, "X");
	if (b->x < 0 || set_prod(L, b->x, PROD_X) < 0)
		return oom(L, where);
	Tensor *x = &b->tensors[b->x];
	x->rank = b->in_rank;
	memcpy(x->shape, b->in_shape, sizeof x->shape);
	x->dtype = b->in_dtype;

	b->n_layers = (int)json_array_size(layers);
	for (int li = 0; li < b->n_layers; li++) {
		json_t *e = json_array_get(layers, (size_t)li);
		const char *type;
		snprintf(path, sizeof path, "%s.layers[%d]", where, li);
		if (!json_is_object(e))
			return err(L, "%s: is %s, expected a Tensor, Layer or direct-op object", path,
			           json_desc(e, db, sizeof db));
		if (get_string(L, path, e, "type", 1, &type) < 0)
			return -1;
		int rc = strcmp(type, "Tensor") == 0 ? parse_tensor(L, b, li, e, path)
		                                     : parse_layer(L, b, li, e, path, type);
		if (rc < 0)
			return -1;
	}

	/* every declaration written; Y written */
	for (int ti = 0; ti < b->n_tensors; ti++)
		if (prod_of(L, ti) == -1)
			return err(L, "%s.layers[%d] ('%s'): tensor '%s' is declared but never written, expected a later layer to write it",
			           where, b->tensors[ti].decl_layer, b->tensors[ti].name, b->tensors[ti].name);
	b->y = block_find_tensor(b, "Y");
	if (b->y < 0)
		return err(L, "%s: 'Y' is never produced, expected the block's last op to write it", where);
	return 0;
}

static Model *load_tree(json_t *root, const char *path, const char *basedir, Diag *d)
{
	static const char *const keys[] = {"type", "name", "input_shape", "input_datatype", "output_shape",
	                                   "output_datatype", "blocks", NULL};
	Loader L = {0};
	L.file = path;
	L.basedir = basedir;
	L.d = d;
	char db[96];
	Model *m = nnl_calloc(1, sizeof *m);
	if (!m) {
		oom(&L, "model");
		return NULL;
	}
	L.m = m;
	if (!json_is_object(root)) {
		err(&L, "the top level is %s, expected a Model object", json_desc(root, db, sizeof db));
		goto fail;
	}
	if (parse_header(&L, "model", root, "Model", &m->name, &m->in_rank, m->in_shape, &m->in_dtype, &m->out_rank,
	                 m->out_shape, &m->out_dtype) < 0)
		goto fail;
	if (check_keys(&L, "model", root, keys) < 0)
		goto fail;
	if (!(m->path = nnl_strdup(path))) {
		oom(&L, "model");
		goto fail;
	}
	json_t *blocks = json_object_get(root, "blocks");
	if (!blocks) {
		err(&L, "model: missing \"blocks\", expected a non-empty list of Block objects");
		goto fail;
	}
	if (!json_is_array(blocks) || json_array_size(blocks) == 0) {
		err(&L, "blocks: is %s, expected a non-empty list of Block objects", json_desc(blocks, db, sizeof db));
		goto fail;
	}
	if (json_array_size(blocks) > (1u << 20)) {
		err(&L, "blocks: %zu blocks, too many", json_array_size(blocks));
		goto fail;
	}
	size_t nb = json_array_size(blocks);
	m->blocks = nnl_calloc(nb, sizeof *m->blocks);
	if (!m->blocks) {
		oom(&L, "blocks");
		goto fail;
	}
	m->n_blocks = (int)nb;
	for (L.bi = 0; L.bi < m->n_blocks; L.bi++)
		if (parse_block(&L, &m->blocks[L.bi], json_array_get(blocks, (size_t)L.bi)) < 0)
			goto fail;
	if (model_infer(m, d) < 0)
		goto fail;
	free(L.prod);
	free(L.realbase);
	return m;
fail:
	free(L.prod);
	free(L.realbase);
	model_free(m);
	return NULL;
}

static void syntax_error(Diag *d, const char *path, const json_error_t *je)
{
	if (je->line > 0)
		diag_add(d, "%s:%d:%d: %s", path, je->line, je->column, je->text);
	else
		diag_add(d, "%s: %s", path, je->text);
}

Model *json_load_model_buffer(const char *buf, size_t len, const char *path, const char *basedir, Diag *d)
{
	json_error_t je;
	if (!path)
		path = "<buffer>";
	if (!basedir || !basedir[0])
		basedir = ".";
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		syntax_error(d, path, &je);
		return NULL;
	}
	Model *m = load_tree(root, path, basedir, d);
	json_decref(root);
	return m;
}

Model *json_load_model(const char *path, Diag *d)
{
	json_error_t je;
	struct stat st;
	/* jansson would report a folder as a read error at line -1; say what it is */
	if (stat(path, &st) < 0) {
		diag_add(d, "%s: cannot open the model file: %s", path, strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		diag_add(d, "%s: is a folder, expected a model.json file", path);
		return NULL;
	}
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		syntax_error(d, path, &je);
		return NULL;
	}
	/* weight paths are relative to the folder of the model file */
	const char *slash = strrchr(path, '/');
	char *base;
	if (!slash)
		base = nnl_strdup(".");
	else if (slash == path)
		base = nnl_strdup("/");
	else if ((base = nnl_malloc((size_t)(slash - path) + 1)) != NULL) {
		memcpy(base, path, (size_t)(slash - path));
		base[slash - path] = 0;
	}
	if (!base) {
		diag_add(d, "%s: out of memory", path);
		json_decref(root);
		return NULL;
	}
	Model *m = load_tree(root, path, base, d);
	free(base);
	json_decref(root);
	return m;
}
