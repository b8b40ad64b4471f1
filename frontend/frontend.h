/* frontend.h — reading and writing models and data: the JSON model IR
 * (json/load.c, json/write.c) and input/output data files (data/npy.c, data/idx.c).
 *
 * Nothing here prints or exits; errors go to a Diag with the file, the JSON
 * path and what was expected. Writers never leave half-written output: they
 * write to a temporary name and rename at the end.
 */
#ifndef NNL_FRONTEND_H
#define NNL_FRONTEND_H

#include "ir.h"

#include <stddef.h>

/* ---- json/load.c ---------------------------------------------------------- */

/* Load model.json and its weight files, build the graph, infer and verify it
 * (model_infer). NULL with messages in d on any error. */
Model *json_load_model(const char *path, Diag *d);
/* The same from a buffer: path names it in messages, weight paths are
 * resolved against basedir. Used by the fuzzer and by tests. */
Model *json_load_model_buffer(const char *buf, size_t len, const char *path, const char *basedir, Diag *d);

/* ---- json/write.c ---------------------------------------------------------- */

/* Write m as outdir/model.json and outdir/weights/<tensor>.bin (constants with
 * a "value" stay inline). outdir appears whole or not at all; an existing
 * outdir is an error unless force, then it is replaced. 0 or -1 with messages. */
int json_write_model(const Model *m, const char *outdir, int force, Diag *d);
/* The JSON text alone (weights not written): a malloc'd string, or NULL. */
char *json_model_text(const Model *m, Diag *d);

/* ---- data/npy.c, data/idx.c: input and output files --------------------- */

/* An n-dimensional array read from a file. */
typedef struct NdArray {
	DType dtype;
	int rank;
	int64_t shape[NNL_MAX_RANK];
	void *data; /* owned, C order, little-endian */
	int64_t nbytes;
} NdArray;

void ndarray_free(NdArray *a);
/* A .npy file (format 1.0–3.0, C order, little-endian or 1-byte types). */
int npy_read(const char *path, NdArray *out, Diag *d);
/* Write a .npy file atomically (temp + rename). */
int npy_write(const char *path, const NdArray *a, Diag *d);
/* A raw binary file: its size must be exactly nbytes. */
int raw_read(const char *path, int64_t nbytes, void **out, Diag *d);
int raw_write(const char *path, const void *data, int64_t nbytes, Diag *d);
/* An IDX file (MNIST format), gzip-compressed or not (detected). */
int idx_read(const char *path, NdArray *out, Diag *d);

/* Write a whole file atomically: path.tmp-XXXXXX, then rename. */
int write_file_atomic(const char *path, const void *data, size_t len, Diag *d);

#endif
