/* b64.c: base64 of b64.h. Strict on input (canonical form only), plain on output. */
#include "b64.h"

#include "err.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of c in the alphabet, or -1. */
static int val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes or (out == NULL) only checks; shared by b64_check and b64_decode. */
static long run(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t o = 0;
	if (n % 4 != 0)
		return -ERR_FIELD_INVALID;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = val(c)) < 0)
				return -ERR_FIELD_INVALID;
		}
		/* Canonical form: the bits that padding drops must be zero. */
		if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
			return -ERR_FIELD_INVALID;
		unsigned long g = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		                  (unsigned long)v[2] << 6 | (unsigned long)v[3];
		size_t k = (size_t)(3 - pad);
		if (out) {
			if (o + k > cap)
				return -ERR_OVERFLOW;
			unsigned char t[3] = {(unsigned char)(g >> 16), (unsigned char)(g >> 8),
			                      (unsigned char)g};
			for (size_t j = 0; j < k; j++)
				out[o + j] = t[j];
		}
		o += k;
	}
	return (long)o;
}

/* see b64.h */
long b64_check(const char *s, size_t n)
{
	return run(s, n, 0, 0);
}

/* see b64.h */
long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	long r = run(s, n, 0, 0);
	return r < 0 ? r : run(s, n, out, cap);
}

/* see b64.h */
void b64_encode(struct buf *b, const void *data, size_t n)
{
	const unsigned char *d = data;
	for (size_t i = 0; i < n; i += 3) {
		unsigned long g = (unsigned long)d[i] << 16;
		if (i + 1 < n)
			g |= (unsigned long)d[i + 1] << 8;
		if (i + 2 < n)
			g |= d[i + 2];
		char q[4] = {alphabet[g >> 18 & 63], alphabet[g >> 12 & 63],
		             i + 1 < n ? alphabet[g >> 6 & 63] : '=',
		             i + 2 < n ? alphabet[g & 63] : '='};
		buf_append(b, q, 4);
	}
}

/* see b64.h */
void b64_wrap(struct buf *b, const char *s, size_t n, size_t width)
{
	while (n > 0) {
		size_t k = n < width ? n : width;
		buf_append(b, s, k);
		buf_append(b, "\r\n", 2);
		s += k;
		n -= k;
	}
}
