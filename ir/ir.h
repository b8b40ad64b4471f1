/* ir.h — the graph IR layer: diagnostics, datatypes, the op registry, the
 * graph (Model → Block → Tensor/Node), shape inference and the reference
 * interpreter. One header for the layer, one section per file.
 *
 * Ownership: a Model owns everything reachable from it (names, shapes,
 * constant data); model_free() releases it all. Nothing here prints or exits:
 * errors are appended to a Diag and reported by the caller.
 */
#ifndef NNL_IR_H
#define NNL_IR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NNL_MAX_RANK 8
#define NNL_MAX_ATTRS 8
#define NNL_MAX_ATTR_INTS 8
/* A bound on elements per tensor (2^40): far beyond any device, small enough
 * that element × byte-size products never overflow 64 bits. */
#define NNL_MAX_ELEMENTS (INT64_C(1) << 40)

/* ---- diag.c: diagnostics ------------------------------------------------ */

/* A list of error messages. Code below the tools appends and returns a status;
 * only the tools' mains print. A message is complete on its own: it names the
 * file, the place in it and what was expected. */
typedef struct Diag {
	char **msgs;
	int n, cap;
	int oom; /* an allocation failed while reporting: messages may be missing */
} Diag;

void diag_init(Diag *d);
void diag_free(Diag *d);
void diag_clear(Diag *d);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void diag_add(Diag *d, const char *fmt, ...);
void diag_vadd(Diag *d, const char *fmt, va_list ap);
/* Print every message as "prog: error: msg" to stderr. */
void diag_print(const Diag *d, const char *prog);

/* Internal invariant failure: loud, with the place in the source. Never for
 * bad input — that is a Diag. */
#define NNL_BUG(msg) nnl_bug(__FILE__, __LINE__, msg)
void nnl_bug(const char *file, int line, const char *msg);

/* Overflow-checked helpers for sizes that come from untrusted files. */
int nnl_mul_i64(int64_t a, int64_t b, int64_t *out); /* 0 on success, -1 on overflow */
void *nnl_malloc(size_t n);   /* NULL on failure; n == 0 gives a valid pointer */
void *nnl_calloc(size_t n, size_t size);
char *nnl_strdup(const char *s);
/* Test hook: make the n-th allocation from now fail (0 = never). */
void nnl_fail_alloc_after(long n);

/* ---- datatype.c: datatypes ------------------------------------------------ */

typedef enum DType {
	DT_INVALID = 0,
#define DT(id, name, bits, kind, sgn) DT_##id,
#include "datatypes.def"
#undef DT
	DT_COUNT
} DType;

const char *dtype_name(DType t);
DType dtype_from_name(const char *s);       /* "bool" is an alias of int1; DT_INVALID if unknown */
int dtype_bits(DType t);
int dtype_is_float(DType t);
int dtype_is_int(DType t);                  /* integer types, bool excluded */
int dtype_is_signed(DType t);
int dtype_is_packed(DType t);               /* fewer than 8 bits per element */
/* Bytes for n elements (packed types round up); -1 on overflow. */
int64_t dtype_bytes(DType t, int64_t n);
/* Element i of a buffer as a double (exact for every type but int64 beyond
 * 2^53) and back (rounded to nearest for floats, saturating for integers). */
double dtype_get(DType t, const void *buf, int64_t i);
void dtype_set(DType t, void *buf, int64_t i, double v);
int64_t dtype_get_i64(DType t, const void *buf, int64_t i);
float nnl_half_to_float(uint16_t h);
uint16_t nnl_float_to_half(float f);
float nnl_bf16_to_float(uint16_t h);
uint16_t nnl_float_to_bf16(float f);

/* ---- ops.c: the op registry (rows in ops.def) -------------------------- */

typedef enum OpKind {
	OP_INVALID = 0,
#define OP(id, ...) OP_##id,
#include "ops.def"
#undef OP
	OP_COUNT
} OpKind;

enum {
	OPF_FLOAT = 1 << 0,       /* computes in float32 (float16/bfloat16/float64 constants are widened) */
	OPF_ANYTYPE = 1 << 1,     /* moves data: any datatype of 8 bits or more */
	OPF_NUMERIC = 1 << 2,     /* float32, float64 and integers of 8..64 bits; inputs share one type */
	OPF_REAL = 1 << 3,        /* float32 and float64; inputs share one type */
	OPF_ELEMENTWISE = 1 << 4, /* output element i depends only on input element i (after broadcasting) */
	OPF_VIEW = 1 << 5,        /* output is the input's bytes unchanged (a reshape or a copy) */
	OPF_DIRECT = 1 << 6,      /* written as a direct op: {"type": "+", ...} */
};

typedef enum AttrKind { ATTR_INT, ATTR_INTS, ATTR_FLOAT, ATTR_BOOL, ATTR_STRING, ATTR_PAD } AttrKind;

typedef struct AttrSpec {
	const char *name;
	AttrKind kind;
	const char *def; /* JSON text; NULL: required; "null": absent means not set */
	const char *doc;
} AttrSpec;

typedef struct OpInfo {
	const char *name;    /* JSON name */
	const char *inputs;  /* "x, weight, bias?" */
	const char *summary;
	unsigned flags;
	int min_in, max_in;  /* from inputs; max_in < 0: unbounded */
	const AttrSpec *attrs;
	int n_attrs;
} OpInfo;

const OpInfo *op_info(OpKind op);
OpKind op_from_name(const char *name, int direct); /* direct: look up "type" names */
/* Name of input i for messages ("weight"); variadic inputs repeat the last name. */
const char *op_input_name(OpKind op, int i, char *buf, size_t bufsize);
const char *attr_kind_name(AttrKind k);

/* A parsed attribute. For ATTR_PAD, either n ints or s = "same"/"valid". */
typedef struct AttrValue {
	int set;  /* 0: absent ("null" default, not given) */
	int n;    /* number of ints for INTS/PAD; 1 for INT/BOOL */
	int64_t i[NNL_MAX_ATTR_INTS];
	double f;
	char s[16];
} AttrValue;

/* ---- graph.c: the graph IR --------------------------------------------- */

typedef struct Quant {
	int n;              /* number of (scale, zero_point) pairs: 1 (per tensor) or shape[axis] */
	int axis;           /* -1 for per tensor */
	double *scale;
	int64_t *zero_point;
} Quant;

typedef struct Tensor {
	char *name;
	DType dtype;
	int rank;
	int64_t shape[NNL_MAX_RANK];
	int declared;       /* defined by a Tensor entry (else created by the op that writes it) */
	int decl_layer;     /* index of its Tensor entry in the block's layers, -1 if none */
	/* Constant data (weights): owned, dtype_bytes(dtype, numel) bytes. NULL for activations. */
	void *data;
	int64_t nbytes;
	char *data_path;    /* the "data" path as written, relative to the model file; NULL if inline */
	int inline_value;   /* data came from "value" (written back inline) */
	Quant *quant;       /* NULL if none */
} Tensor;

typedef struct Node {
	OpKind op;
	char *id;           /* optional "id" from the JSON, for messages */
	int layer;          /* index in the block's "layers" array */
	int n_in;
	int *in;            /* tensor indices in the block */
	int out;            /* tensor index in the block */
	int n_out_list;     /* 1 if tensor_output was a one-element list (written back the same way) */
	int in_is_list;     /* tensor_input was a list (written back the same way) */
	AttrValue attrs[NNL_MAX_ATTRS]; /* in the order of op_info(op)->attrs */
	int attr_given[NNL_MAX_ATTRS];  /* given in the JSON (written back), not defaulted */
} Node;

typedef struct Block {
	char *name;
	int in_rank, out_rank;
	int64_t in_shape[NNL_MAX_RANK], out_shape[NNL_MAX_RANK];
	DType in_dtype, out_dtype;
	Tensor *tensors;    /* tensors[x] is X; activations and constants, in order of definition */
	int n_tensors, cap_tensors;
	Node *nodes;        /* execution order */
	int n_nodes, cap_nodes;
	int x, y;           /* tensor indices of X and Y */
	int n_layers;       /* entries in the JSON "layers" array (tensors + nodes) */
} Block;

typedef struct Model {
	char *name;
	char *path;         /* the model file it was loaded from (for messages), may be NULL */
	int in_rank, out_rank;
	int64_t in_shape[NNL_MAX_RANK], out_shape[NNL_MAX_RANK];
	DType in_dtype, out_dtype;
	Block *blocks;
	int n_blocks;
} Model;

void model_free(Model *m);
int64_t tensor_numel(const Tensor *t);
int64_t shape_numel(int rank, const int64_t *shape);
int block_find_tensor(const Block *b, const char *name); /* index or -1 */
/* Append a tensor (name copied); returns its index or -1 on allocation failure. */
int block_add_tensor(Block *b, const char *name);
Node *block_add_node(Block *b);
/* "[1, 28, 28]" into buf. */
const char *shape_str(int rank, const int64_t *shape, char *buf, size_t size);
/* Parameters (elements of constant tensors) and MACs of a model. */
int64_t model_param_count(const Model *m);

/* Context for messages about one node: "file: blocks[b].layers[l] (Op 'id'): ..." */
typedef struct OpCtx {
	Diag *diag;
	const char *file;
	int block;
	const Node *node;
} OpCtx;
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void op_error(const OpCtx *c, const char *fmt, ...);

/* ---- shape.c + ops_*.c: shape and type inference ------------------------ */

/* Infer the output's dtype and shape of every node of every block, in order,
 * check arity, attribute values, input types and shapes, declared tensors
 * against inferred ones, and the block and model headers. 0 or -1 with
 * messages in d. */
int model_infer(Model *m, Diag *d);

/* ---- eval.c + ops_*.c: the reference interpreter ------------------------ */

/* Run the model on one input (model input dtype and shape, C order).
 * output gets dtype_bytes(out_dtype, numel(out_shape)) bytes. 0 or -1 with
 * messages in d (division by zero, out of memory). */
int model_eval(const Model *m, const void *input, void *output, Diag *d);

/* Per-op family entry points, referenced from the registry table. */
typedef int (*InferFn)(const OpCtx *c, Tensor *const *in, Tensor *out);
typedef int (*EvalFn)(const OpCtx *c, const Tensor *const *in, void *const *in_data, Tensor *out, void *out_data);
InferFn op_infer_fn(OpKind op);
EvalFn op_eval_fn(OpKind op);

/* Helpers for shape rules and kernels (shape.c). */
/* The attribute called name of the node's op (NNL_BUG if the op has none:
 * that is a programming error, not bad input). */
const AttrValue *node_attr(const Node *n, const char *name);
/* An INTS attribute as nd values: one value applies to all, or exactly nd.
 * Each must be >= min. Reports through op_error and returns -1 otherwise. */
int attr_spatial(const OpCtx *c, const char *name, int nd, int64_t min, int64_t *out);
/* Padding as begin[nd], end[nd] from an INTS or PAD attribute: one value,
 * nd values (symmetric) or 2·nd values (all begins, then all ends). Strings
 * ("same"/"valid") are left to the caller: returns 1 then, 0 when filled,
 * -1 after reporting an error. */
int attr_padding(const OpCtx *c, const char *name, int nd, int64_t *begin, int64_t *end);
int norm_axis(int64_t axis, int rank, int64_t *out); /* -rank..rank-1 → 0..rank-1; -1 if out of range */
/* numpy broadcasting of two shapes; -1 if incompatible */
int broadcast_shapes(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out);

#endif
