/*
 * A streaming parser of multipart bodies (RFC 2046 5.1), as DICOMweb STOW-RS
 * sends them: Content-Type multipart/related; type="application/dicom";
 * boundary=...
 *
 * The body is fed in pieces of any size (one byte is fine) and each part's
 * data is passed on as it arrives: the parser holds no more of it than
 * could still be the start of a delimiter (the boundary plus a few bytes),
 * so parts of any size pass through in constant memory. Part headers are
 * kept (at most MULTIPART_MAX_HEADERS bytes per part) until the part's
 * begin callback returns. The preamble before the first delimiter and the
 * epilogue after the closing one are ignored.
 *
 * Line ends are CRLF, as the RFC requires; a bare LF is accepted too (in
 * delimiters and header lines), because some clients write them. With bare
 * LF line ends a CR just before a delimiter's LF still counts as part of
 * the delimiter. A delimiter at the start of a part's data (no line end
 * before it) is recognised as well and ends an empty part. A line in the
 * body that starts with the delimiter but continues with anything other
 * than "--", blanks or a line end is an error: RFC 2046 forbids it inside
 * parts.
 *
 * Errors give the byte offset in the body. After an error (including a
 * callback's refusal) the parser stops: every later call fails with the
 * same error and no callback is made again; in particular end is not
 * called for a part left open.
 */
#ifndef OBIA_SERVER_MULTIPART_H
#define OBIA_SERVER_MULTIPART_H

#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>

#define MULTIPART_MAX_BOUNDARY 70        /* RFC 2046 */
#define MULTIPART_MAX_HEADERS 16384      /* bytes of one part's header lines */

typedef struct multipart multipart;

/* A part's headers (NULL when absent; values without surrounding blanks),
 * valid during the begin callback only. Other headers are ignored. */
typedef struct multipart_part {
    const char *content_type;
    const char *content_location;
    const char *content_id;
    const char *content_transfer_encoding;
} multipart_part;

/* Callbacks (any may be NULL): begin once a part's headers are read, data
 * for each piece of its content (never empty), end at the delimiter after
 * it. Returning false stops the parser; the error set in err (or, if none,
 * one saying the handler refused) is what feed and finish report. */
typedef struct multipart_handler {
    bool (*begin)(void *ctx, const multipart_part *part, obia_error *err);
    bool (*data)(void *ctx, const char *p, size_t n, obia_error *err);
    bool (*end)(void *ctx, obia_error *err);
} multipart_handler;

/* A parser for bodies delimited by boundary (1..70 characters of RFC 2046
 * bchars, not ending in a space; OBIA_E_ARG otherwise). h is copied. */
multipart *multipart_new(const char *boundary, const multipart_handler *h, void *ctx,
                         obia_error *err);

/* The next len bytes of the body. */
bool multipart_feed(multipart *m, const char *data, size_t len, obia_error *err);

/* The end of the body: false unless the closing delimiter ("--boundary--")
 * was seen (a body cut short, a part left open, no delimiter at all). */
bool multipart_finish(multipart *m, obia_error *err);

void multipart_free(multipart *m);

/* From a Content-Type header value, the boundary parameter (into
 * boundary[cap]) and the type parameter, lower-cased (into type[type_cap],
 * "" when absent; type may be NULL). The media type must be
 * multipart/related (OBIA_E_UNSUPPORTED otherwise: no header, or another
 * type); a malformed header, a missing or invalid boundary or one too long
 * for cap are OBIA_E_ARG. */
bool multipart_boundary(const char *content_type_header, char *boundary, size_t cap,
                        char *type, size_t type_cap, obia_error *err);

#endif
