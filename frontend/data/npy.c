/* npy.c — NumPy .npy files and raw binary files for model inputs and outputs.
 *
 * Reads format versions 1.0, 2.0 and 3.0 with a C-order array of a type the
 * IR knows ('<f4', '<f8', '<f2', '|i1', '|u1', '<i2', '<u2', '<i4', '<i8',
 * '|b1'); big-endian and Fortran-order arrays are refused with a message.
 * The header is a Python dict literal; this parser accepts exactly the form
 * numpy writes (keys in any order, spaces anywhere) and nothing looser.
 */
#include "frontend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ndarray_free(NdArray *a)
{
	free(a->data);
	memset(a, 0, sizeof *a);
}

static const struct {
	const char *descr;
	DType dt;
} npy_types[] = {
	{"<f4", DT_FLOAT32}, {"<f8", DT_FLOAT64}, {"<f2", DT_FLOAT16}, {"|i1", DT_INT8},
	{"|u1", DT_UINT8},   {"<i2", DT_INT16},   {"<u2", DT_UINT16},  {"<i4", DT_INT32},
	{"<i8", DT_INT64},   {"|b1", DT_INT1},
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	return p;
}

/* Parse the header dict; 0 or -1 with a message saying what was expected. */
static int parse_header(const char *path, const char *h, NdArray *a, Diag *d)
{
	int have_descr = 0, have_order = 0, have_shape = 0;
	const char *p = skip_ws(h);
	if (*p++ != '{') {
		diag_add(d, "%s: .npy header: expected a '{' dict", path);
		return -1;
	}
	for (;;) {
		p = skip_ws(p);
		if (*p == '}')
			break;
		char key[16];
		if (*p != '\'' || sscanf(p, "'%15[a-z_]'", key) != 1) {
			diag_add(d, "%s: .npy header: expected a quoted key at offset %d", path, (int)(p - h));
			return -1;
		}
		p = strchr(p + 1, '\'') + 1;
		p = skip_ws(p);
		if (*p++ != ':') {
			diag_add(d, "%s: .npy header: expected ':' after '%s'", path, key);
			return -1;
		}
		p = skip_ws(p);
		if (strcmp(key, "descr") == 0) {
			char descr[16];
			if (sscanf(p, "'%15[^']'", descr) != 1) {
				diag_add(d, "%s: .npy header: 'descr' is not a string", path);
				return -1;
			}
			a->dtype = DT_INVALID;
			for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
				if (strcmp(descr, npy_types[i].descr) == 0)
					a->dtype = npy_types[i].dt;
			if (a->dtype == DT_INVALID) {
				diag_add(d, "%s: .npy dtype '%s' is not supported, expected little-endian float32/64/16 "
				         "or int8/16/32/64, uint8/16, bool",
				         path, descr);
				return -1;
			}
			p = strchr(p + 1, '\'') + 1;
			have_descr = 1;
		} else if (strcmp(key, "fortran_order") == 0) {
			if (strncmp(p, "False", 5) == 0) {
				p += 5;
			} else {
				diag_add(d, "%s: .npy array is in Fortran order, expected C order (np.ascontiguousarray)", path);
				return -1;
			}
			have_order = 1;
		} else if (strcmp(key, "shape") == 0) {
			if (*p++ != '(') {
				diag_add(d, "%s: .npy header: 'shape' is not a tuple", path);
				return -1;
			}
			a->rank = 0;
			for (;;) {
				p = skip_ws(p);
				if (*p == ')')
					break;
				char *end;
				long long v = strtoll(p, &end, 10);
				if (end == p || v < 0 || v > NNL_MAX_ELEMENTS) {
					diag_add(d, "%s: .npy header: bad dimension in 'shape'", path);
					return -1;
				}
				if (a->rank == NNL_MAX_RANK) {
					diag_add(d, "%s: .npy array has more than %d dimensions", path, NNL_MAX_RANK);
					return -1;
				}
				a->shape[a->rank++] = v;
				p = skip_ws(end);
				if (*p == ',')
					p++;
			}
			p++;
			have_shape = 1;
		} else {
			diag_add(d, "%s: .npy header: unexpected key '%s'", path, key);
			return -1;
		}
		p = skip_ws(p);
		if (*p == ',')
			p++;
	}
	if (!have_descr || !have_order || !have_shape) {
		diag_add(d, "%s: .npy header lacks %s", path, !have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'");
		return -1;
	}
	return 0;
}

int npy_read(const char *path, NdArray *out, Diag *d)
{
	memset(out, 0, sizeof *out);
	FILE *f = fopen(path, "rb");
	if (!f) {
		diag_add(d, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	int rc = -1;
	char *hdr = NULL;
	unsigned char pre[12];
	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
		diag_add(d, "%s: not a .npy file (expected the \\x93NUMPY magic)", path);
		goto done;
	}
	int major = pre[6];
	uint32_t hlen;
	long data_off;
	if (major == 1) {
		hlen = pre[8] | (uint32_t)pre[9] << 8;
		data_off = 10 + (long)hlen;
	} else if (major == 2 || major == 3) {
		if (fread(pre + 10, 1, 2, f) != 2) {
			diag_add(d, "%s: truncated .npy header", path);
			goto done;
		}
		hlen = pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
		data_off = 12 + (long)hlen;
		if (hlen > (1u << 20)) {
			diag_add(d, "%s: .npy header of %u bytes, expected less than 1 MiB", path, hlen);
			goto done;
		}
	} else {
		diag_add(d, "%s: .npy format version %d, expected 1, 2 or 3", path, major);
		goto done;
	}
	hdr = nnl_malloc(hlen + 1);
	if (!hdr) {
		diag_add(d, "%s: out of memory", path);
		goto done;
	}
	if (fread(hdr, 1, hlen, f) != hlen) {
		diag_add(d, "%s: truncated .npy header", path);
		goto done;
	}
	hdr[hlen] = 0;
	if (parse_header(path, hdr, out, d) < 0)
		goto done;
	int64_t n = shape_numel(out->rank, out->shape);
	int64_t nb = n < 0 ? -1 : dtype_bytes(out->dtype, n);
	if (out->dtype == DT_INT1) /* numpy bools are one byte each */
		nb = n;
	if (nb < 0 || n > NNL_MAX_ELEMENTS) {
		diag_add(d, "%s: .npy shape is too large", path);
		goto done;
	}
	if (fseek(f, 0, SEEK_END) != 0 || ftell(f) != data_off + nb) {
		diag_add(d, "%s: .npy data is %ld bytes, expected %lld for the shape in its header", path,
		         ftell(f) - data_off, (long long)nb);
		goto done;
	}
	fseek(f, data_off, SEEK_SET);
	out->data = nnl_malloc((size_t)nb);
	if (!out->data || fread(out->data, 1, (size_t)nb, f) != (size_t)nb) {
		diag_add(d, "%s: cannot read %lld bytes of data", path, (long long)nb);
		goto done;
	}
	out->nbytes = nb;
	if (out->dtype == DT_INT1) { /* keep one byte per element: callers see uint8 0/1 */
		out->dtype = DT_UINT8;
	}
	rc = 0;
done:
	if (rc < 0)
		ndarray_free(out);
	free(hdr);
	fclose(f);
	return rc;
}

int npy_write(const char *path, const NdArray *a, Diag *d)
{
	const char *descr = NULL;
	for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
		if (npy_types[i].dt == a->dtype)
			descr = npy_types[i].descr;
	if (!descr || a->dtype == DT_INT1) {
		diag_add(d, "%s: datatype %s cannot be written as .npy", path, dtype_name(a->dtype));
		return -1;
	}
	char dict[512];
	int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
	for (int i = 0; i < a->rank; i++)
		k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld,%s", (long long)a->shape[i],
		              i + 1 < a->rank ? " " : "");
	if (a->rank > 1) /* numpy writes (3,) for rank 1 and (2, 3) otherwise */
		k--;
	k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
	/* Pad with spaces so that magic + header is a multiple of 64, end with '\n'. */
	size_t total = 10 + (size_t)k + 1;
	size_t pad = (64 - total % 64) % 64;
	size_t hlen = (size_t)k + pad + 1;
	size_t len = 10 + hlen + (size_t)a->nbytes;
	unsigned char *buf = nnl_malloc(len);
	if (!buf) {
		diag_add(d, "%s: out of memory", path);
		return -1;
	}
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = (unsigned char)(hlen & 0xff);
	buf[9] = (unsigned char)(hlen >> 8);
	memcpy(buf + 10, dict, (size_t)k);
	memset(buf + 10 + k, ' ', pad);
	buf[10 + hlen - 1] = '\n';
	memcpy(buf + 10 + hlen, a->data, (size_t)a->nbytes);
	int rc = write_file_atomic(path, buf, len, d);
	free(buf);
	return rc;
}

int raw_read(const char *path, int64_t nbytes, void **out, Diag *d)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		diag_add(d, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	long size = -1;
	if (fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	if (size != nbytes) {
		diag_add(d, "%s: file is %ld bytes, expected %lld", path, size, (long long)nbytes);
		fclose(f);
		return -1;
	}
	fseek(f, 0, SEEK_SET);
	void *p = nnl_malloc((size_t)nbytes);
	if (!p || fread(p, 1, (size_t)nbytes, f) != (size_t)nbytes) {
		diag_add(d, "%s: cannot read %lld bytes", path, (long long)nbytes);
		free(p);
		fclose(f);
		return -1;
	}
	fclose(f);
	*out = p;
	return 0;
}

int raw_write(const char *path, const void *data, int64_t nbytes, Diag *d)
{
	return write_file_atomic(path, data, (size_t)nbytes, d);
}
