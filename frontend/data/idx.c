/* idx.c — IDX files (the MNIST / Fashion-MNIST format), plain or gzipped.
 *
 * Layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16,
 * 0x0C int32, 0x0D float32, 0x0E float64), a rank byte, rank big-endian
 * uint32 dimensions, then the data, big-endian. zlib's gzread reads plain
 * files unchanged, so one path serves both.
 */
#include "frontend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int idx_read(const char *path, NdArray *out, Diag *d)
{
	memset(out, 0, sizeof *out);
	gzFile f = gzopen(path, "rb");
	if (!f) {
		diag_add(d, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
		return -1;
	}
	int rc = -1;
	unsigned char h[4];
	if (gzread(f, h, 4) != 4 || h[0] != 0 || h[1] != 0) {
		diag_add(d, "%s: not an IDX file (expected two zero bytes, a type byte and a rank byte)", path);
		goto done;
	}
	int esize;
	switch (h[2]) {
	case 0x08: out->dtype = DT_UINT8; esize = 1; break;
	case 0x09: out->dtype = DT_INT8; esize = 1; break;
	case 0x0B: out->dtype = DT_INT16; esize = 2; break;
	case 0x0C: out->dtype = DT_INT32; esize = 4; break;
	case 0x0D: out->dtype = DT_FLOAT32; esize = 4; break;
	case 0x0E: out->dtype = DT_FLOAT64; esize = 8; break;
	default:
		diag_add(d, "%s: IDX type byte 0x%02x, expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E", path, h[2]);
		goto done;
	}
	if (h[3] == 0 || h[3] > NNL_MAX_RANK) {
		diag_add(d, "%s: IDX rank %d, expected 1 to %d", path, h[3], NNL_MAX_RANK);
		goto done;
	}
	out->rank = h[3];
	for (int i = 0; i < out->rank; i++) {
		unsigned char b[4];
		if (gzread(f, b, 4) != 4) {
			diag_add(d, "%s: truncated IDX header", path);
			goto done;
		}
		out->shape[i] = (int64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
	}
	int64_t n = shape_numel(out->rank, out->shape), nb;
	if (n < 0 || n > NNL_MAX_ELEMENTS || nnl_mul_i64(n, esize, &nb) < 0 || (uint64_t)nb > (uint64_t)INT32_MAX * 4) {
		diag_add(d, "%s: IDX dimensions are too large", path);
		goto done;
	}
	out->data = nnl_malloc((size_t)nb);
	if (!out->data) {
		diag_add(d, "%s: out of memory for %lld bytes", path, (long long)nb);
		goto done;
	}
	int64_t got = 0;
	while (got < nb) {
		unsigned chunk = nb - got > (1 << 30) ? (1u << 30) : (unsigned)(nb - got);
		int r = gzread(f, (char *)out->data + got, chunk);
		if (r <= 0)
			break;
		got += r;
	}
	if (got != nb) {
		diag_add(d, "%s: IDX data is %lld bytes, expected %lld for its dimensions", path, (long long)got,
		         (long long)nb);
		goto done;
	}
	unsigned char extra;
	if (gzread(f, &extra, 1) != 0) {
		diag_add(d, "%s: IDX file has data after the %lld bytes its dimensions give", path, (long long)nb);
		goto done;
	}
	/* Big-endian to little-endian. */
	unsigned char *p = out->data;
	for (int64_t i = 0; esize > 1 && i < n; i++)
		for (int a = 0, b = esize - 1; a < b; a++, b--) {
			unsigned char t = p[i * esize + a];
			p[i * esize + a] = p[i * esize + b];
			p[i * esize + b] = t;
		}
	out->nbytes = nb;
	rc = 0;
done:
	if (rc < 0)
		ndarray_free(out);
	gzclose(f);
	return rc;
}
