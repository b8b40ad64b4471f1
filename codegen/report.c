/* report.c — nnllc --report (see report.h).
 *
 * Per layer (one row per graph node, labelled as the lowering labels its
 * top-level statements, "<id or output tensor> (<Op>)"), from the Model:
 *   MACs     Conv1d/Conv2d, Linear: output elements × (weight elements /
 *            weight rows), i.e. × Cin/groups·k for a convolution and × in
 *            features for Linear; MatMul: output elements × the shared
 *            dimension; every other op 0 (elementwise work is not a MAC).
 *   params   elements of the node's constant inputs; weight bytes their bytes.
 *   output   bytes of the node's output tensor (a view's output is counted
 *            too, though it takes no memory of its own).
 * Totals: flash = .text* + .rodata* (+ .srodata, .lrodata, .data.rel.ro) +
 * .data* of the object compiled in memory for the same target and options;
 * arena, lower bound, no-reuse sum from LoopMemStats; stack: what the
 * prologue of PREFIX_run reserves, read from the assembly compiled in memory
 * (stack_estimate below; library calls such as expf add their own frames),
 * "unknown" when no prologue pattern is found.
 */
#include "report.h"

#include <llvm-c/Core.h>
#include <llvm-c/Object.h>
#include <stdlib.h>
#include <string.h>

CgObjectSizes cg_object_sizes(const char *obj, size_t len)
{
	CgObjectSizes s = {0, 0, 0, 0};
	LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj, len, "model.o");
	char *err = NULL;
	LLVMBinaryRef bin = mb ? LLVMCreateBinary(mb, NULL, &err) : NULL;
	if (!bin) {
		LLVMDisposeMessage(err);
		if (mb)
			LLVMDisposeMemoryBuffer(mb);
		return s;
	}
	LLVMSectionIteratorRef it = LLVMObjectFileCopySectionIterator(bin);
	for (; it && !LLVMObjectFileIsSectionIteratorAtEnd(bin, it); LLVMMoveToNextSection(it)) {
		const char *n = LLVMGetSectionName(it);
		uint64_t z = LLVMGetSectionSize(it);
		if (!n)
			continue;
		if (!strncmp(n, ".text", 5))
			s.text += z;
		else if (!strncmp(n, ".rodata", 7) || !strncmp(n, ".srodata", 8) || !strncmp(n, ".lrodata", 8) ||
		         !strncmp(n, ".data.rel.ro", 12))
			s.rodata += z;
		else if (!strncmp(n, ".data", 5) || !strncmp(n, ".sdata", 6))
			s.data += z;
	}
	if (it)
		LLVMDisposeSectionIterator(it);
	LLVMDisposeBinary(bin);
	LLVMDisposeMemoryBuffer(mb);
	s.ok = 1;
	return s;
}

/* Stack bytes the prologue reserves: the largest .cfi_def_cfa_offset when the
 * assembly has CFI, else the sum of register pushes and stack-pointer
 * decrements found in it (x86 pushq/subq, ARM push/vpush/sub sp, AArch64
 * stp ...[sp, #-N]!/sub sp, RISC-V addi sp, sp, -N). -1 if nothing found. */
static long stack_estimate(const char *as)
{
	long best = -1, sum = 0;
	int found = 0;
	for (const char *q = as; (q = strstr(q, ".cfi_def_cfa_offset")) != NULL; q++) {
		long v = strtol(q + 19, NULL, 10);
		if (v > best)
			best = v;
	}
	if (best >= 0)
		return best;
	for (const char *line = as; line && *line;) {
		const char *e = strchr(line, '\n');
		size_t n = e ? (size_t)(e - line) : strlen(line);
		char l[256];
		snprintf(l, sizeof l, "%.*s", (int)(n < 255 ? n : 255), line);
		char *t = l;
		while (*t == ' ' || *t == '\t')
			t++;
		const char *h;
		if (!strncmp(t, "pushq", 5))
			sum += 8, found = 1;
		else if (!strncmp(t, "subq\t$", 6) && strstr(t, "%rsp"))
			sum += strtol(t + 6, NULL, 10), found = 1;
		else if (!strncmp(t, "push\t{", 6) || !strncmp(t, "vpush\t{", 7)) {
			int regs = 1, dbl = t[0] == 'v';
			for (const char *c = t; *c; c++)
				regs += *c == ',';
			const char *dash = strchr(t, '-');
			if (dash && dbl) /* {d8-d15} */
				regs += (int)(strtol(dash + 2, NULL, 10) - strtol(strchr(t, '{') + 2, NULL, 10));
			sum += regs * (dbl ? 8 : 4), found = 1;
		} else if ((!strncmp(t, "sub", 3)) && strstr(t, "sp") && (h = strchr(t, '#')) != NULL &&
		           (strstr(t, "sp, sp,") || strstr(t, "sp, #")) && !strstr(t, "add")) {
			sum += strtol(h + 1, NULL, 0), found = 1;
		} else if (!strncmp(t, "stp\t", 4) && (h = strstr(t, "[sp, #-")) != NULL)
			sum += strtol(h + 7, NULL, 0), found = 1;
		else if (!strncmp(t, "addi\tsp, sp, -", 14))
			sum += strtol(t + 14, NULL, 10), found = 1;
		line = e ? e + 1 : NULL;
	}
	return found ? sum : -1;
}

typedef struct Row {
	char label[256];
	int64_t macs, params, wbytes, obytes;
} Row;

static void layer_row(const Block *b, const Node *n, Row *r)
{
	const char *op = op_info(n->op)->name;
	const Tensor *y = &b->tensors[n->out];
	int64_t out = shape_numel(y->rank, y->shape);
	memset(r, 0, sizeof *r);
	snprintf(r->label, sizeof r->label, "%s (%s)", n->id ? n->id : y->name, op);
	r->obytes = dtype_bytes(y->dtype, out);
	const Tensor *w = NULL;
	for (int i = 0; i < n->n_in; i++) {
		const Tensor *t = &b->tensors[n->in[i]];
		if (!t->data)
			continue;
		int64_t k = shape_numel(t->rank, t->shape);
		r->params += k;
		r->wbytes += dtype_bytes(t->dtype, k);
		if (!w && t->rank >= 2)
			w = t;
	}
	if ((!strcmp(op, "Conv1d") || !strcmp(op, "Conv2d") || !strcmp(op, "Linear")) && w && w->shape[0] > 0)
		r->macs = out * (shape_numel(w->rank, w->shape) / w->shape[0]);
	else if (!strcmp(op, "MatMul") && n->n_in >= 1) {
		const Tensor *a = &b->tensors[n->in[0]];
		r->macs = a->rank ? out * a->shape[a->rank - 1] : 0;
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int report_write(FILE *f, const Model *m, const LProgram *p, const CgOptions *o, const LoopMemStats *mem, int json,
                 Diag *d)
{
	CgOptions oo = *o;
	char *obj = NULL, *as = NULL;
	size_t olen = 0, alen = 0;
	oo.print_codegen = oo.print_opt = 0;
	oo.filetype = CG_FILE_OBJ;
	if (cg_compile_to_memory(p, &oo, &obj, &olen, d) < 0)
		return -1;
	oo.filetype = CG_FILE_ASM;
	if (cg_compile_to_memory(p, &oo, &as, &alen, d) < 0) {
		free(obj);
		return -1;
	}
	CgObjectSizes sz = cg_object_sizes(obj, olen);
	long stack = stack_estimate(as);
	free(obj);
	free(as);

	int64_t tm = 0, tp = 0, tw = 0;
	if (json)
		fprintf(f, "{\n  \"model\": "), json_str(f, p->name), fprintf(f, ",\n  \"target\": "),
		    json_str(f, o->target->name), fprintf(f, ",\n  \"layers\": [");
	else
		fprintf(f, "nnllc report: %s, -march=%s\n%-40s %14s %12s %12s %12s\n", p->name, o->target->name, "layer",
		        "MACs", "params", "weight B", "output B");
	int first = 1;
	for (int bi = 0; bi < m->n_blocks; bi++) {
		const Block *b = &m->blocks[bi];
		for (int ni = 0; ni < b->n_nodes; ni++) {
			Row r;
			layer_row(b, &b->nodes[ni], &r);
			tm += r.macs, tp += r.params, tw += r.wbytes;
			if (json) {
				fprintf(f, "%s\n    {\"layer\": ", first ? "" : ",");
				json_str(f, r.label);
				fprintf(f, ", \"macs\": %lld, \"params\": %lld, \"weight_bytes\": %lld, \"output_bytes\": %lld}",
				        (long long)r.macs, (long long)r.params, (long long)r.wbytes, (long long)r.obytes);
			} else {
				fprintf(f, "%-40.40s %14lld %12lld %12lld %12lld\n", r.label, (long long)r.macs, (long long)r.params,
				        (long long)r.wbytes, (long long)r.obytes);
			}
			first = 0;
		}
	}
	uint64_t flash = sz.text + sz.rodata + sz.data;
	int hasm = mem && mem->valid;
	if (json) {
		fprintf(f, "\n  ],\n  \"totals\": {\"macs\": %lld, \"params\": %lld, \"weight_bytes\": %lld,\n", (long long)tm,
		        (long long)tp, (long long)tw);
		if (sz.ok)
			fprintf(f, "    \"flash\": %llu, \"text\": %llu, \"rodata\": %llu, \"data\": %llu,\n",
			        (unsigned long long)flash, (unsigned long long)sz.text, (unsigned long long)sz.rodata,
			        (unsigned long long)sz.data);
		else
			fprintf(f, "    \"flash\": null,\n");
		fprintf(f, "    \"arena\": %lld", (long long)p->arena_bytes);
		if (hasm)
			fprintf(f, ", \"lower_bound\": %lld, \"lower_bound_program_order\": %lld, \"lower_bound_as_lowered\": %lld,"
			           " \"no_reuse\": %lld, \"inplace_merges\": %d, \"reordered\": %s, \"bound_reached\": %s",
			        (long long)mem->bound, (long long)mem->bound_in_order, (long long)mem->bound_lowered,
			        (long long)mem->no_reuse, mem->n_inplace, mem->reordered ? "true" : "false",
			        mem->reached ? "true" : "false");
		if (stack >= 0)
			fprintf(f, ",\n    \"stack_estimate\": %ld, \"stack_source\": \"prologue of the generated function (CFI or push/sub sp)\"",
			        stack);
		else
			fprintf(f, ",\n    \"stack_estimate\": null, \"stack_source\": \"unknown (no prologue pattern found in the assembly)\"");
		fprintf(f, "\n  }\n}\n");
	} else {
		fprintf(f, "%-40s %14lld %12lld %12lld\n", "total", (long long)tm, (long long)tp, (long long)tw);
		if (sz.ok)
			fprintf(f, "flash            %10llu B  (.text %llu + .rodata %llu + .data %llu, measured in the object)\n",
			        (unsigned long long)flash, (unsigned long long)sz.text, (unsigned long long)sz.rodata,
			        (unsigned long long)sz.data);
		else
			fprintf(f, "flash            unknown (the object could not be read)\n");
		fprintf(f, "arena            %10lld B\n", (long long)p->arena_bytes);
		if (hasm) {
			fprintf(f, "lower bound      %10lld B  (%s; program order %lld, as lowered %lld)\n", (long long)mem->bound,
			        mem->reached ? "reached" : "NOT reached by the placement", (long long)mem->bound_in_order,
			        (long long)mem->bound_lowered);
			fprintf(f, "no-reuse sum     %10lld B\n", (long long)mem->no_reuse);
			fprintf(f, "in-place merges  %10d\n", mem->n_inplace);
		}
		if (stack >= 0)
			fprintf(f, "stack estimate   %10ld B  (frame of the generated function; library calls add theirs)\n", stack);
		else
			fprintf(f, "stack estimate   unknown (no prologue pattern found in the assembly)\n");
	}
	return 0;
}
