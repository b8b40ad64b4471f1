/* gopt.h — graph passes (JSON → JSON, run by nnl-opt): the pass table
 * (passes.def), `name(key=value,...)` pipeline parsing, the per-layer report,
 * and the graph-rewriting helpers the passes share (util.c).
 *
 * A pass is   int pass(Model *m, const PassArgs *a, PassReport *r, Diag *d)
 * It rewrites m in place, appends one report row per layer it changed or
 * skipped (with the reason), re-runs model_infer before returning, and
 * returns 0, or -1 with a message in d when the request is impossible (an
 * argument out of range, a layer name that does not exist). A pass that
 * fails may leave m half-rewritten: callers drop the model then (nnl-opt
 * writes nothing).
 */
#ifndef NNL_GOPT_H
#define NNL_GOPT_H

#include "ir.h"

#include <stdio.h>

#define GOPT_MAX_ARGS 8

/* ---- arguments ---------------------------------------------------------- */

typedef enum GArgKind {
	GA_INT,    /* 64 */
	GA_FLOAT,  /* 0.5, 1e-3 */
	GA_STRING, /* l1 */
	GA_NAMES,  /* a,b,c — a list continues until the next key=value */
} GArgKind;

typedef struct GArgSpec {
	const char *name;
	GArgKind kind;
	const char *def; /* default text; NULL: not set unless given */
	const char *doc;
} GArgSpec;

typedef struct PassArg {
	int set;     /* given, or a default exists */
	int given;   /* given by the user */
	int64_t i;
	double f;
	char *s;     /* GA_STRING */
	char **names;/* GA_NAMES */
	int n_names;
} PassArg;

/* Data some passes need (drop-layer's sensitivity ranking): an IDX image
 * file and its labels, as nnl-run --eval-idx reads them. */
typedef struct GoptData {
	const char *images, *labels;
	long limit;        /* 0: all */
	double pixel_scale;/* uint8 pixels × this (1/255) */
} GoptData;

struct GPassInfo;
typedef struct PassArgs {
	const struct GPassInfo *pass;
	PassArg v[GOPT_MAX_ARGS]; /* in the order of the pass's GArgSpec table */
	const GoptData *data;     /* may be NULL */
	int verbose;
} PassArgs;

/* The argument called name (NNL_BUG if the pass has none). */
const PassArg *pass_arg(const PassArgs *a, const char *name);
/* Does the GA_NAMES argument 'layers' select this layer? (unset: yes) */
int pass_selects(const PassArgs *a, const char *argname, const char *layer);

/* ---- the report ---------------------------------------------------------- */

typedef struct ReportRow {
	char *pass, *layer, *action; /* action: "factorized", "pruned", "removed", "skipped", ... */
	int64_t params0, params1;    /* parameters of the layer(s) before/after */
	int64_t nnz1;                /* nonzero parameters after */
	int64_t macs0, macs1;        /* dense MACs per inference before/after */
	char *note;
} ReportRow;

typedef struct PassReport {
	ReportRow *rows;
	int n, cap;
	int64_t params0, params1, nnz0, nnz1, macs0, macs1; /* whole model, set by gopt_run */
	int oom;
} PassReport;

void report_free(PassReport *r);
#if defined(__GNUC__)
__attribute__((format(printf, 10, 11)))
#endif
void report_add(PassReport *r, const char *pass, const char *layer, const char *action, int64_t params0,
                int64_t params1, int64_t nnz1, int64_t macs0, int64_t macs1, const char *fmt, ...);
void report_print(const PassReport *r, FILE *f);
void report_print_json(const PassReport *r, FILE *f);

/* ---- the pass table and the pipeline -------------------------------------- */

typedef int (*GPassFn)(Model *m, const PassArgs *a, PassReport *r, Diag *d);

typedef struct GPassInfo {
	const char *name;
	GPassFn fn;
	const char *doc;
	const GArgSpec *args;
	int n_args;
} GPassInfo;

#define GPASS(id, name, fn, doc, ...) int fn(Model *m, const PassArgs *a, PassReport *r, Diag *d);
#include "passes.def"
#undef GPASS

const GPassInfo *gopt_pass(const char *name); /* NULL if unknown */
int gopt_pass_count(void);
const GPassInfo *gopt_pass_at(int i);

/* A parsed pipeline: "fold-bn,lowrank(energy=0.9),prune(sparsity=0.5)". */
typedef struct GPipeline {
	PassArgs *steps;
	int n;
} GPipeline;

/* Parse spec; messages name the pass, the argument and what was expected.
 * 0 or -1. */
int gopt_parse(const char *spec, GPipeline *pl, Diag *d);
void gopt_pipeline_free(GPipeline *pl);
/* Run every step in order on m (each re-runs model_infer); fills the
 * model totals of r. 0 or -1 (m is then unusable). */
int gopt_run(Model *m, const GPipeline *pl, const GoptData *data, PassReport *r, Diag *d);
/* Pass and argument documentation (nnl-opt --help, docs). */
void gopt_print_passes(FILE *f);

/* ---- util.c: shared rewriting helpers -------------------------------------- */

/* The name users give a layer: its id, else its output tensor's name. */
const char *gopt_node_name(const Block *b, const Node *n);
/* Find a layer by id, output tensor name or weight tensor name. 0 or -1. */
int gopt_find_layer(const Model *m, const char *name, int *bi, int *ni);
/* Check that every name of the GA_NAMES argument argname exists;
 * -1 with "pass: layer 'x' does not exist; layers: a, b, c". */
int gopt_check_names(const Model *m, const PassArgs *a, const char *argname, Diag *d);
int64_t gopt_node_macs(const Block *b, const Node *n);
int64_t gopt_node_params(const Block *b, const Node *n);
int64_t gopt_node_nnz(const Block *b, const Node *n);
int64_t gopt_model_macs(const Model *m);
int64_t gopt_model_nnz(const Model *m);
/* Consumers of tensor t in block b: node indices into out (up to max);
 * returns the count (may exceed max). */
int gopt_consumers(const Block *b, int t, int *out, int max);
/* Is t read by a node or is it the block's Y? */
int gopt_tensor_used(const Block *b, int t);
/* Insert an empty node at position at (nodes after it move down). Node
 * pointers into b are invalidated. */
Node *gopt_insert_node(Block *b, int at);
/* Remove node ni (its tensors stay; gopt_compact drops unused ones). */
void gopt_remove_node(Block *b, int ni);
/* Set the inputs of a node (copies ins). 0 or -1 (out of memory). */
int gopt_set_inputs(Node *n, int n_in, const int *ins);
/* A new float32 constant named after base (made unique in b), taking data
 * (malloc'd, numel(shape) floats). Tensor index or -1 (data freed). */
int gopt_add_const_f32(Block *b, const char *base, int rank, const int64_t *shape, float *data);
/* A new activation tensor named after base (unique). Index or -1. */
int gopt_add_activation(Block *b, const char *base);
/* Replace every read of tensor from by to in b (Y stays Y: see drop_layer). */
void gopt_replace_uses(Block *b, int from, int to);
/* Drop nodes whose output nobody reads (transitively; Y is kept) and
 * tensors nobody references; renumber. 0 or -1. */
int gopt_compact(Block *b);
/* After a rewrite: forget activation declarations (shapes are re-inferred),
 * renumber node->layer, run model_infer. 0 or -1. */
int gopt_refresh(Model *m, Diag *d);
/* Float32 view of a constant tensor (converted copy for other float types):
 * malloc'd, NULL on error. */
float *gopt_const_f32(const Tensor *t);
/* A deep copy of m (NULL on out of memory). */
Model *gopt_model_clone(const Model *m);

/* ---- drop_layer.c: candidates and the sensitivity ranking ------------------- */

typedef struct DropCand {
	int bi, ni;
	int residual;     /* a residual '+' whose branch goes */
	char name[128];
	double acc;       /* accuracy with this layer alone removed (gopt_rank_drop) */
	int64_t params;   /* parameters saved */
	int64_t macs;     /* MACs saved */
} DropCand;

int gopt_drop_candidates(const Model *m, DropCand **out, int *n);
/* Base accuracy and the accuracy with each candidate alone removed. */
int gopt_rank_drop(const Model *m, const GoptData *data, DropCand **cands, int *n, double *base, Diag *d);

/* Top-1 accuracy of m on an IDX data set (as nnl-run --eval-idx). -1 on error. */
double gopt_eval_accuracy(const Model *m, const GoptData *data, Diag *d);

#endif
