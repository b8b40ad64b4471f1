/* quantize.h — the options of the quantize pass that come from nnl-opt's
 * command line (--calibrate FILE, --calib-size N, --calib-method M,
 * --int8-io) rather than from -passes=quantize(...). Pass arguments of the
 * same meaning (method=, calib_size=, int8_io=) take precedence.
 */
#ifndef NNL_GOPT_QUANTIZE_H
#define NNL_GOPT_QUANTIZE_H

typedef struct QuantizeOptions {
	const char *calibrate; /* IDX images (.gz accepted) or .npy samples; NULL: --calib IMAGES */
	long calib_size;       /* 0: the default (1000) */
	const char *method;    /* "minmax", "percentile", "mse"; NULL: minmax */
	int int8_io;           /* the model's input and output become integer */
} QuantizeOptions;

/* Set for the following runs of the quantize pass (copied; strings must outlive them). */
void gopt_quantize_set_options(const QuantizeOptions *o);

#endif
