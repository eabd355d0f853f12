/*
 * Parsers of what a client sends in a request line and its headers: the
 * request target (path segments and query parameters), media types
 * (Content-Type, Accept) and the QIDO-RS query parameters.
 *
 * All input is untrusted: every function checks lengths and characters
 * before using them and fails with OBIA_E_ARG (OBIA_E_LIMIT for too many
 * segments or parameters) and a message that says what was wrong and at
 * which byte. Strings produced by http_uri_parse live in the request's
 * arena; media types are copied into fixed fields; a qido_request points
 * into the parameters it was parsed from, which must outlive it.
 */
#ifndef OBIA_SERVER_PARSE_H
#define OBIA_SERVER_PARSE_H

#include "server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- request target ----------------------------------------------------------------- */

/* Parse uri, the raw request target ("/dicomweb/studies?PatientID=AB%2A&limit=10"),
 * into r->path, r->seg/r->nseg and r->query/r->nquery (nothing else in r is
 * touched). Segments are percent-decoded one by one; empty segments (from
 * "//" or a trailing "/") are dropped, and r->path is "/" followed by the
 * decoded segments joined by "/" ("/" when there are none). Query parameters
 * are split at '&' (empty pieces skipped) and decoded, '+' meaning a space;
 * a parameter without '=' has the value "". A fragment ("#...") is dropped.
 * Refused (OBIA_E_ARG): a target not starting with '/', a bad or truncated
 * percent escape, an encoded NUL, decoded bytes that are not valid UTF-8,
 * a control character in the path, a segment "." or "..", a decoded segment
 * holding '/' or '\\', a parameter with an empty name. More than
 * REQ_MAX_SEGMENTS segments or REQ_MAX_PARAMS parameters: OBIA_E_LIMIT. */
bool http_uri_parse(const char *uri, obia_arena *a, req *r, obia_error *err);

/* ---- media types (RFC 9110 8.3.1, 12.5.1) ------------------------------------------- */

#define MEDIA_MAX_PARAMS 8

typedef struct media_type {
    char type[80];                 /* lower-case "type/subtype" */
    struct {
        char name[40];             /* lower-case */
        char value[200];           /* unquoted */
    } param[MEDIA_MAX_PARAMS];
    size_t nparam;
    int q;                         /* weight 0..1000 (Accept); 1000 otherwise */
} media_type;

/* Parse a media type with its parameters ("multipart/related;
 * type=\"application/dicom\"; boundary=xyz"). Whitespace is allowed around
 * ';' and '=' and at either end; values are tokens or quoted strings with
 * backslash escapes (an unquoted value may also hold '/', as in the
 * type=application/dicom that some clients send). Errors (OBIA_E_ARG): a
 * missing or malformed type or subtype, a parameter without '=' or value,
 * an unclosed quoted string, a control character in a value, a parameter
 * given twice, a name or value too long for its field, more than
 * MEDIA_MAX_PARAMS parameters. */
bool http_media_type_parse(const char *s, media_type *out, obia_error *err);

/* The value of parameter name (any case), or NULL. */
const char *http_media_param(const media_type *mt, const char *name);

/* Parse an Accept header into at most max media ranges, ordered by q
 * (descending; ranges of equal q keep their order), and return how many.
 * The q parameter sets the weight and is not kept among the parameters.
 * Ranges with q=0 are dropped, malformed ones skipped (so is a range of
 * any type with a given subtype); when more than max are acceptable the
 * highest weighted are kept. NULL or an empty (or all-blank) s means the
 * one range that matches anything (type "*", subtype "*"). */
size_t http_accept_parse(const char *s, media_type *out, size_t max);

/* Whether the range covers type ("type/subtype", any case): a range of
 * type "*" and subtype "*" covers every type, "image" with subtype "*"
 * every image type, others only their own type. The range's parameters
 * are the caller's to compare. */
bool http_media_match(const media_type *range, const char *type);

/* ---- QIDO-RS query parameters (PS3.18 8.3.4) ---------------------------------------- */

#define QIDO_MAX_INCLUDE 64
#define QIDO_MAX_VALUE 1024

typedef struct qido_request {
    obia_qido_query q;             /* level, matches, fuzzy, limit, offset */
    uint32_t include[QIDO_MAX_INCLUDE];   /* includefield tags, without repeats */
    size_t ninclude;
    bool include_all;              /* includefield=all */
    char unsupported[256];         /* comma-separated names of matching keys ignored,
                                      for a Warning header; "..." ends a list cut short */
} qido_request;

/* Parse the query parameters p[0..n) of a QIDO-RS request at level into
 * *out (cleared first; q.study_uid, q.series_uid and q.public_only are left
 * to the caller):
 *   limit          1..max_limit (absent: default_limit)
 *   offset         0 or more (absent: 0)
 *   fuzzymatching  true or false
 *   includefield   repeatable; a comma-separated list of keywords, 8-hex-digit
 *                  tags or "all" (a dotted sequence path includes its first
 *                  attribute)
 *   accept, charset  left to content negotiation (PS3.18 8.3.3), ignored here
 *   anything else  a matching key: a keyword (PatientName), 8 hex digits
 *                  (00100010) or a dotted sequence path
 *                  (ReferencedSeriesSequence.SeriesInstanceUID).
 * Matching keys that obia_catalog_qido_key() does not support at level, and
 * every dotted path, are ignored and named in out->unsupported. The values
 * of matching keys are kept as given (pointers into p; the catalog checks
 * them) but must be at most QIDO_MAX_VALUE bytes. Errors (OBIA_E_ARG, naming
 * the parameter): an unknown keyword, a key or a non-repeatable parameter
 * given twice, a bad number or boolean, an empty includefield or an empty
 * name in its list, more than QIDO_MAX_INCLUDE included attributes or
 * OBIA_QIDO_MAX_MATCHES matching keys; more than REQ_MAX_PARAMS parameters
 * is OBIA_E_LIMIT. */
bool qido_params_parse(const param *p, size_t n, obia_qido_level level, long default_limit,
                       long max_limit, qido_request *out, obia_error *err);

#endif
