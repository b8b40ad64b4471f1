/* fuzz_load — libFuzzer target for the JSON model loader.
 *
 * Each input is a model.json text; weight paths resolve against
 * test/fuzz/data, which holds a few small .bin files, so the fuzzer reaches
 * size checks, shape inference and (for models that load) the interpreter on
 * a zero input. Any crash, sanitizer report or leak is a finding.
 */
#include "frontend.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Diag d;
	diag_init(&d);
	Model *m = json_load_model_buffer((const char *)data, size, "fuzz.json", NNL_FUZZ_DATA_DIR, &d);
	if (m) {
		int64_t in_n = shape_numel(m->in_rank, m->in_shape), out_n = shape_numel(m->out_rank, m->out_shape);
		int64_t in_b = dtype_bytes(m->in_dtype, in_n), out_b = dtype_bytes(m->out_dtype, out_n);
		/* Run only small models: the point is the checks, not the arithmetic. */
		if (in_b >= 0 && out_b >= 0 && in_b < (1 << 20) && out_b < (1 << 20)) {
			void *x = calloc(1, (size_t)in_b + 1), *y = calloc(1, (size_t)out_b + 1);
			if (x && y)
				model_eval(m, x, y, &d);
			free(x);
			free(y);
		}
		model_free(m);
	}
	diag_free(&d);
	return 0;
}
