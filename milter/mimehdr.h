/*
 * NAME
 *	mimehdr.h - MIME header fields as a person reads them (RFC 2045, 2047, 2231)
 * DESCRIPTION
 *	Header-level MIME for the milter's rules, built on GMime 3 (its RFC
 *	2047 decoder and encoder, its Content-Type and Content-Disposition
 *	parsers). No message objects: every function takes one header value
 *	and returns plain C data, so the caller's memory stays bounded by the
 *	MTA's header size limit.
 *
 *	mimehdr_init() once, before any thread calls the rest; after it the
 *	functions are thread-safe. Strings returned are malloc()ed, NUL
 *	terminated, and freed by the caller with free().
 */
#ifndef MILTER_MIMEHDR_H
#define MILTER_MIMEHDR_H

#include <stddef.h>

/* 0, or -1 when GMime cannot start. */
int mimehdr_init(void);

/*
 * A header value as a person reads it: unfolded (every CR and LF removed,
 * folding anywhere, the leading and trailing blanks trimmed) and RFC 2047
 * encoded words (B and Q, any charset iconv knows, several words, blanks
 * between adjacent words dropped) decoded to UTF-8. An undecodable word
 * (bad base64, an encoding other than B or Q, an empty charset) stays as
 * it stands; a word in a charset iconv does not know gives its bytes when
 * they are valid UTF-8 (ASCII), else stays as it stands. Bytes that are
 * invalid in their charset, and bytes outside words, are kept as they
 * are (invalid UTF-8 included). Words are also found inside a word
 * ("x=?utf-8?q?a?=y" is "xay"), and the bytes of adjacent words in one
 * charset are joined before conversion (a character split across two
 * words comes out whole). Linear in the length. NUL bytes that a word
 * decodes to ("=?utf-8?q?=00?=") are dropped, so the result holds none
 * and *len (when len is not NULL) is its strlen(). NULL only when out of
 * memory.
 */
char *mimehdr_decode(const char *value, size_t *len);

/*
 * The value to write back into a header from UTF-8 text (a Subject with
 * its tag stripped): the text itself when it is printable ASCII, else
 * RFC 2047 encoded words in UTF-8, so that the header stays valid; never
 * a CR or LF. mimehdr_decode(mimehdr_encode(x)) == x for any x (leading
 * or trailing blanks and "=?" are encoded too). The MTA folds long
 * headers itself. NULL when out of memory.
 */
char *mimehdr_encode(const char *utf8);

/* A Content-Type, parsed by RFC 2045 and 2231. */
typedef struct {
	char type[64];    /* lower case; "text" when absent or unparsable */
	char subtype[64]; /* lower case; "plain" when absent or unparsable */
	char *boundary;   /* NULL: none */
	char *charset;    /* NULL: none */
	char *protocol;   /* lower case; NULL: none (multipart/encrypted) */
	char *smime_type; /* lower case; NULL: none (application/pkcs7-mime) */
	char *name;       /* names[0]; NULL: none */
	char **names;     /* every name parameter, decoded to UTF-8 (see mimehdr_filenames) */
	size_t nnames;
	int parsed; /* 0: value absent or unparsable, the defaults above */
} mimehdr_ctype;

/*
 * Parse a Content-Type value (NULL: absent): comments, quoted strings,
 * any parameter order and case, folding anywhere, RFC 2231 continuations
 * and charsets. 0, or -1 when out of memory (ct then holds nothing to free).
 */
int mimehdr_content_type(const char *value, mimehdr_ctype *ct);
void mimehdr_ctype_free(mimehdr_ctype *ct);

/*
 * Every filename parameter of a Content-Disposition value, decoded to
 * UTF-8 (RFC 2231 continuations and charsets, and RFC 2047 words as
 * clients write them): a header may hold several ("filename=\"ok.pdf\";
 * filename*=utf-8''secret.pdf"), and clients differ in which they show.
 * Those written by RFC 2231 (filename*) come first, then the plain ones,
 * each in header order; duplicates are kept. NUL bytes are dropped (a
 * "%00" or an encoded word's NUL would otherwise end the name). *names is
 * a malloc()ed array of *n strings and a NULL, or NULL when there are
 * none; free it with mimehdr_names_free(). 0, or -1 when out of memory
 * (nothing to free then).
 */
int mimehdr_filenames(const char *disposition, char ***names, size_t *n);
void mimehdr_names_free(char **names, size_t n);

/* The first of mimehdr_filenames() (*name NULL: none). 0, or -1 when out of memory. */
int mimehdr_filename(const char *disposition, char **name);

/*
 * The Content-Transfer-Encoding of a value (NULL: absent), case and
 * comments ignored. Anything but the five of RFC 2045 (x-uuencode,
 * x-token, garbage) is MIMEHDR_CTE_UNKNOWN, not identity: a client may
 * decode what the caller would read as it stands.
 */
typedef enum {
	MIMEHDR_CTE_IDENTITY = 0, /* 7bit, 8bit, binary, absent or empty */
	MIMEHDR_CTE_BASE64,
	MIMEHDR_CTE_QP,
	MIMEHDR_CTE_UNKNOWN, /* any other value */
} mimehdr_cte;
mimehdr_cte mimehdr_transfer_encoding(const char *value);

/*
 * Does a Content-Type announce encrypted content to decrypt: PGP/MIME
 * (multipart/encrypted, with protocol application/pgp-encrypted, another or
 * none: RFC 1847 requires one, and the gateway judges it), or S/MIME
 * application/pkcs7-mime or x-pkcs7-mime with smime-type enveloped-data or
 * authEnveloped-data, or with no smime-type at all (RFC 8551: a .p7m is
 * enveloped data unless it says otherwise). signed-data and certs-only are
 * not. 1 or 0.
 */
int mimehdr_encrypted(const mimehdr_ctype *ct);

#endif /* MILTER_MIMEHDR_H */
