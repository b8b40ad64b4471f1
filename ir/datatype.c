/* datatype.c — the datatypes of the model IR: names, sizes, element access.
 *
 * Element access goes through double so that one generic path serves data
 * movement, direct ops and conversions; float32 kernels use float pointers
 * directly. float16 follows IEEE 754 binary16, bfloat16 is the top half of a
 * binary32, both rounded to nearest even. Integers saturate on conversion.
 */
#include "ir.h"

#include <math.h>
#include <string.h>

static const struct {
	const char *name;
	int bits;
	char kind;
	int sgn;
} dt_table[DT_COUNT] = {
	[DT_INVALID] = {"invalid", 0, '?', 0},
#define DT(id, name, bits, kind, sgn) [DT_##id] = {name, bits, #kind[0], sgn},
#include "datatypes.def"
#undef DT
};

const char *dtype_name(DType t) { return (t > 0 && t < DT_COUNT) ? dt_table[t].name : "invalid"; }

DType dtype_from_name(const char *s)
{
	if (!s)
		return DT_INVALID;
	if (strcmp(s, "bool") == 0)
		return DT_INT1;
	for (int t = 1; t < DT_COUNT; t++)
		if (strcmp(dt_table[t].name, s) == 0)
			return (DType)t;
	return DT_INVALID;
}

int dtype_bits(DType t) { return (t > 0 && t < DT_COUNT) ? dt_table[t].bits : 0; }
int dtype_is_float(DType t) { return t > 0 && t < DT_COUNT && dt_table[t].kind == 'F'; }
int dtype_is_int(DType t) { return t > 0 && t < DT_COUNT && dt_table[t].kind == 'I'; }
int dtype_is_signed(DType t) { return t > 0 && t < DT_COUNT && dt_table[t].sgn; }
int dtype_is_packed(DType t) { return dtype_bits(t) > 0 && dtype_bits(t) < 8; }

int64_t dtype_bytes(DType t, int64_t n)
{
	int64_t bits;
	if (n < 0 || nnl_mul_i64(n, dtype_bits(t), &bits) < 0 || bits > INT64_MAX - 7)
		return -1;
	return (bits + 7) / 8;
}

float nnl_half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13);
	} else if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else { /* subnormal: normalise */
			int e = -1;
			do {
				man <<= 1;
				e++;
			} while (!(man & 0x400));
			bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
		}
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t nnl_float_to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	uint32_t absx = x & 0x7fffffffu;
	if (absx >= 0x7f800000u) /* inf or nan */
		return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
	if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00);
	if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
		if (absx < 0x33000000u)
			return (uint16_t)sign;
		uint32_t man = (absx & 0x7fffff) | 0x800000;
		int shift = 126 - (int)(absx >> 23); /* value = man·2^(e-150), unit 2^-24 */
		uint32_t r = man >> shift;
		uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	uint32_t r = ((absx >> 13) - (112u << 10));
	uint32_t rem = absx & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (r & 1)))
		r++;
	return (uint16_t)(sign | r);
}

float nnl_bf16_to_float(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t nnl_float_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

static int64_t get_packed(DType t, const uint8_t *p, int64_t i)
{
	int bits = dtype_bits(t);
	int64_t bit = i * bits;
	unsigned v = (p[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
	if (t == DT_INT4 && (v & 8))
		return (int64_t)v - 16;
	return v;
}

int64_t dtype_get_i64(DType t, const void *buf, int64_t i)
{
	const uint8_t *p = buf;
	switch (t) {
	case DT_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
	case DT_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
	case DT_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
	case DT_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
	case DT_INT8: return (int8_t)p[i];
	case DT_UINT8: return p[i];
	case DT_INT4: case DT_UINT4: case DT_INT1: return get_packed(t, p, i);
	default: {
		double d = dtype_get(t, buf, i);
		if (d != d)
			return 0;
		if (d >= 9.2233720368547758e18)
			return INT64_MAX;
		if (d <= -9.2233720368547758e18)
			return INT64_MIN;
		return (int64_t)d;
	}
	}
}

double dtype_get(DType t, const void *buf, int64_t i)
{
	const uint8_t *p = buf;
	switch (t) {
	case DT_FLOAT64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
	case DT_FLOAT32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
	case DT_FLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return nnl_half_to_float(v); }
	case DT_BFLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return nnl_bf16_to_float(v); }
	default: return (double)dtype_get_i64(t, buf, i);
	}
}

static int64_t sat(double v, int64_t lo, int64_t hi)
{
	if (v != v)
		return 0;
	v = nearbyint(v);
	if (v <= (double)lo)
		return lo;
	if (v >= (double)hi)
		return hi;
	return (int64_t)v;
}

void dtype_set(DType t, void *buf, int64_t i, double v)
{
	uint8_t *p = buf;
	switch (t) {
	case DT_FLOAT64: memcpy(p + 8 * i, &v, 8); break;
	case DT_FLOAT32: { float f = (float)v; memcpy(p + 4 * i, &f, 4); break; }
	case DT_FLOAT16: { uint16_t h = nnl_float_to_half((float)v); memcpy(p + 2 * i, &h, 2); break; }
	case DT_BFLOAT16: { uint16_t h = nnl_float_to_bf16((float)v); memcpy(p + 2 * i, &h, 2); break; }
	case DT_INT64: { int64_t x = sat(v, INT64_MIN, INT64_MAX); memcpy(p + 8 * i, &x, 8); break; }
	case DT_INT32: { int32_t x = (int32_t)sat(v, INT32_MIN, INT32_MAX); memcpy(p + 4 * i, &x, 4); break; }
	case DT_INT16: { int16_t x = (int16_t)sat(v, INT16_MIN, INT16_MAX); memcpy(p + 2 * i, &x, 2); break; }
	case DT_UINT16: { uint16_t x = (uint16_t)sat(v, 0, UINT16_MAX); memcpy(p + 2 * i, &x, 2); break; }
	case DT_INT8: p[i] = (uint8_t)(int8_t)sat(v, INT8_MIN, INT8_MAX); break;
	case DT_UINT8: p[i] = (uint8_t)sat(v, 0, UINT8_MAX); break;
	case DT_INT4: case DT_UINT4: case DT_INT1: {
		int bits = dtype_bits(t);
		int64_t x = t == DT_INT4 ? sat(v, -8, 7) : t == DT_UINT4 ? sat(v, 0, 15) : (v != 0);
		int64_t bit = i * bits;
		unsigned mask = ((1u << bits) - 1) << (bit % 8);
		p[bit / 8] = (uint8_t)((p[bit / 8] & ~mask) | (((unsigned)x << (bit % 8)) & mask));
		break;
	}
	default: NNL_BUG("dtype_set on an invalid datatype");
	}
}
