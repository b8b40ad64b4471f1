/* nnl_runtime.c — status codes, weights-blob checks and writer, CRC-32.
 * Freestanding: no libc call, no mutable static data. See nnl_runtime.h. */
#include "nnl_runtime.h"

const char *nnl_status_str(int status)
{
	switch (status) {
	case NNL_OK: return "ok";
	case NNL_ERR_NULL: return "null pointer";
	case NNL_ERR_ALIGN: return "misaligned buffer";
	case NNL_ERR_MAGIC: return "not a weights blob (bad magic)";
	case NNL_ERR_VERSION: return "unsupported weights blob version";
	case NNL_ERR_SIZE: return "weights blob size mismatch";
	case NNL_ERR_CHECKSUM: return "weights checksum mismatch";
	case NNL_ERR_MODEL: return "weights blob is for another model";
	default: return "unknown status";
	}
}

/* CRC-32 by nibbles: 16-entry table, 2 lookups per byte. */
static const uint32_t crc_nibble[16] = {
	0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
	0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
	0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t nnl_crc32(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = (const uint8_t *)data;
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ crc_nibble[crc & 15u];
		crc = (crc >> 4) ^ crc_nibble[crc & 15u];
	}
	return ~crc;
}

uint32_t nnl_fnv1a32(uint32_t h, const void *data, size_t n)
{
	const uint8_t *p = (const uint8_t *)data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x01000193u;
	}
	return h;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int nnl_weights_check(const void *blob, size_t size, uint32_t model_hash, uint32_t payload_size)
{
	const uint8_t *b = (const uint8_t *)blob;
	if (!b)
		return NNL_ERR_NULL;
	if ((uintptr_t)b % NNL_WEIGHTS_ALIGN != 0)
		return NNL_ERR_ALIGN;
	if (size < 4)
		return NNL_ERR_SIZE;
	if (b[0] != NNL_WEIGHTS_MAGIC0 || b[1] != NNL_WEIGHTS_MAGIC1 || b[2] != NNL_WEIGHTS_MAGIC2 ||
	    b[3] != NNL_WEIGHTS_MAGIC3)
		return NNL_ERR_MAGIC;
	if (size < NNL_WEIGHTS_HEADER_BYTES)
		return NNL_ERR_SIZE;
	uint32_t version = rd32(b + 4), hsize = rd32(b + 8), hash = rd32(b + 12);
	uint32_t psize = rd32(b + 16), crc = rd32(b + 20), flags = rd32(b + 24);
	if (version != NNL_WEIGHTS_VERSION || hsize < NNL_WEIGHTS_HEADER_BYTES ||
	    hsize % NNL_WEIGHTS_ALIGN != 0 || flags != 0)
		return NNL_ERR_VERSION;
	if (hash != model_hash)
		return NNL_ERR_MODEL;
	if (psize != payload_size)
		return NNL_ERR_SIZE;
	/* size >= hsize + psize without overflow */
	if (size < hsize || size - hsize < psize)
		return NNL_ERR_SIZE;
	if (nnl_crc32(0, b + hsize, psize) != crc)
		return NNL_ERR_CHECKSUM;
	return NNL_OK;
}

int nnl_weights_bind(const void *blob, size_t size, uint32_t model_hash, uint32_t payload_size,
                     const void **payload)
{
	if (!payload)
		return NNL_ERR_NULL;
	*payload = NULL;
	int st = nnl_weights_check(blob, size, model_hash, payload_size);
	if (st == NNL_OK)
		*payload = (const uint8_t *)blob + rd32((const uint8_t *)blob + 8);
	return st;
}

size_t nnl_weights_align(size_t offset)
{
	size_t r = offset % NNL_WEIGHTS_ALIGN;
	if (r == 0)
		return offset;
	if (offset > (size_t)-1 - (NNL_WEIGHTS_ALIGN - r))
		return (size_t)-1;
	return offset + (NNL_WEIGHTS_ALIGN - r);
}

size_t nnl_weights_blob_size(uint32_t payload_size)
{
	return (size_t)NNL_WEIGHTS_HEADER_BYTES + (size_t)payload_size;
}

int nnl_weights_write_header(void *dst, size_t dst_size, uint32_t model_hash, const void *payload,
                             uint32_t payload_size)
{
	uint8_t *d = (uint8_t *)dst;
	if (!d || (!payload && payload_size != 0))
		return NNL_ERR_NULL;
	if (dst_size < NNL_WEIGHTS_HEADER_BYTES)
		return NNL_ERR_SIZE;
	uint32_t crc = nnl_crc32(0, payload, payload_size);
	d[0] = NNL_WEIGHTS_MAGIC0;
	d[1] = NNL_WEIGHTS_MAGIC1;
	d[2] = NNL_WEIGHTS_MAGIC2;
	d[3] = NNL_WEIGHTS_MAGIC3;
	wr32(d + 4, NNL_WEIGHTS_VERSION);
	wr32(d + 8, NNL_WEIGHTS_HEADER_BYTES);
	wr32(d + 12, model_hash);
	wr32(d + 16, payload_size);
	wr32(d + 20, crc);
	wr32(d + 24, 0);
	wr32(d + 28, 0);
	return NNL_OK;
}
