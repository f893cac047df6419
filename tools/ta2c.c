/*
 * ta2c.c: build-time generator of the compiled-in trust anchors. Reads PEM files of CA
 * certificates and writes C source that defines
 *
 *     const br_x509_trust_anchor tls_builtin_anchors[];
 *     const size_t tls_builtin_anchors_num;
 *
 * as include/tls.h declares them. Each anchor is the certificate's subject DN and public key,
 * flagged BR_X509_TA_CA when basicConstraints says CA; the byte arrays are the same as
 * `brssl ta` prints. Objects other than CERTIFICATE (keys, CRLs) are skipped.
 *
 * This is a host tool run by the Makefile, not part of the service: it may allocate, and it
 * uses stdio. Exit status 1 (with a message on stderr) on any unreadable file, PEM or X.509
 * error, a file holding no certificate, or a failed write, so make never keeps a half file.
 *
 * Usage: ta2c a.pem b.pem ... > ta.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

/* Hex bytes per output line: 12 keeps lines under 80 columns. */
#define BYTES_PER_LINE 12

/* A growable byte buffer; the tool dies on allocation failure rather than limp on. */
struct bytes {
	unsigned char *p;
	size_t len, cap;
};

/* What the anchor table needs to know about each anchor once its arrays are written. */
struct anchor {
	int is_ca;
	int key_type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	int curve;    /* EC only */
};

static struct anchor *anchors;
static size_t num_anchors;

_Noreturn static void die(const char *what, const char *detail)
{
	fprintf(stderr, "ta2c: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static void append(void *ctx, const void *data, size_t n)
{
	struct bytes *b = ctx;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		while (n > cap - b->len)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p)
			die("out of memory", NULL);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void read_file(const char *path, struct bytes *out)
{
	FILE *f = fopen(path, "rb");
	unsigned char chunk[4096];
	size_t n;
	if (!f)
		die("cannot open", path);
	out->len = 0;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		append(out, chunk, n);
	if (ferror(f))
		die("cannot read", path);
	fclose(f);
}

static void print_array(size_t idx, const char *what, const unsigned char *p, size_t n)
{
	printf("static const unsigned char ta%zu_%s[] = {", idx, what);
	for (size_t i = 0; i < n; i++)
		printf("%s0x%02X,", i % BYTES_PER_LINE ? " " : "\n\t", p[i]);
	printf("\n};\n");
}

/* Decodes one DER certificate and writes the arrays of its anchor. */
static void add_cert(const char *path, const unsigned char *der, size_t len)
{
	br_x509_decoder_context dc;
	struct bytes dn = {0};
	br_x509_decoder_init(&dc, append, &dn);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk) {
		fprintf(stderr, "ta2c: %s: X.509 decoding error %d\n", path,
		        br_x509_decoder_last_error(&dc));
		exit(1);
	}
	struct anchor *a = realloc(anchors, (num_anchors + 1) * sizeof *anchors);
	if (!a)
		die("out of memory", NULL);
	anchors = a;
	a = &anchors[num_anchors];
	a->is_ca = br_x509_decoder_isCA(&dc);
	a->key_type = pk->key_type;
	printf("\n/* %s */\n", path);
	print_array(num_anchors, "dn", dn.p, dn.len);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		print_array(num_anchors, "n", pk->key.rsa.n, pk->key.rsa.nlen);
		print_array(num_anchors, "e", pk->key.rsa.e, pk->key.rsa.elen);
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		a->curve = pk->key.ec.curve;
		print_array(num_anchors, "q", pk->key.ec.q, pk->key.ec.qlen);
	} else {
		die("unsupported key type", path);
	}
	free(dn.p);
	num_anchors++;
}

/* Feeds one PEM file through the decoder; each CERTIFICATE object becomes an anchor. */
static void add_pem_file(const char *path)
{
	struct bytes in = {0}, obj = {0};
	br_pem_decoder_context pc;
	size_t off = 0, before = num_anchors;
	int keep = 0, inside = 0;

	read_file(path, &in);
	/* The decoder reports the end of an object only after the newline that ends the
	 * "-----END" line; a file without a final newline still ends its last object. */
	append(&in, "\n", 1);
	br_pem_decoder_init(&pc);
	while (off < in.len) {
		off += br_pem_decoder_push(&pc, in.p + off, in.len - off);
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			keep = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0 ||
			       strcmp(br_pem_decoder_name(&pc), "X509 CERTIFICATE") == 0;
			inside = 1;
			obj.len = 0;
			br_pem_decoder_setdest(&pc, keep ? append : NULL, &obj);
			break;
		case BR_PEM_END_OBJ:
			if (keep)
				add_cert(path, obj.p, obj.len);
			inside = 0;
			break;
		case BR_PEM_ERROR:
			die("PEM decoding error", path);
		}
	}
	if (inside)
		die("unterminated PEM object", path);
	if (num_anchors == before)
		die("no CERTIFICATE object", path);
	free(in.p);
	free(obj.p);
}

static const char *curve_name(int curve)
{
	switch (curve) {
	case BR_EC_secp256r1:
		return "BR_EC_secp256r1";
	case BR_EC_secp384r1:
		return "BR_EC_secp384r1";
	case BR_EC_secp521r1:
		return "BR_EC_secp521r1";
	}
	return NULL;
}

static void print_entry(size_t i)
{
	const struct anchor *a = &anchors[i];
	printf("\t{\n\t\t.dn = {(unsigned char *)ta%zu_dn, sizeof ta%zu_dn},\n", i, i);
	printf("\t\t.flags = %s,\n", a->is_ca ? "BR_X509_TA_CA" : "0");
	if (a->key_type == BR_KEYTYPE_RSA) {
		printf("\t\t.pkey = {.key_type = BR_KEYTYPE_RSA,\n"
		       "\t\t         .key.rsa = {(unsigned char *)ta%zu_n, sizeof ta%zu_n,\n"
		       "\t\t                     (unsigned char *)ta%zu_e, sizeof ta%zu_e}},\n",
		       i, i, i, i);
	} else {
		const char *cn = curve_name(a->curve);
		printf("\t\t.pkey = {.key_type = BR_KEYTYPE_EC,\n\t\t         .key.ec = {");
		if (cn)
			printf("%s", cn);
		else
			printf("%d", a->curve);
		printf(", (unsigned char *)ta%zu_q, sizeof ta%zu_q}},\n", i, i);
	}
	printf("\t},\n");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: ta2c a.pem [b.pem ...] > ta.c", NULL);
	printf("/* Generated by tools/ta2c from certs/ (see certs/README.md). Do not edit. */\n"
	       "#include <stddef.h>\n\n#include <bearssl.h>\n");
	for (int i = 1; i < argc; i++)
		add_pem_file(argv[i]);
	printf("\nconst br_x509_trust_anchor tls_builtin_anchors[] = {\n");
	for (size_t i = 0; i < num_anchors; i++)
		print_entry(i);
	printf("};\n\nconst size_t tls_builtin_anchors_num =\n"
	       "    sizeof tls_builtin_anchors / sizeof tls_builtin_anchors[0];\n");
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write error", "stdout");
	free(anchors);
	return 0;
}
