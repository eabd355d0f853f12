/* Text listing of a dataset, one element a line, in the manner of dcmdump. */
#include "charset.h"
#include "dicom_internal.h"

#include <stdio.h>
#include <string.h>

void obia_dump_options_init(obia_dump_options *opt)
{
    opt->max_value_chars = 64;
    opt->show_meta = true;
}

typedef struct dumper {
    obia_sink_fn sink;
    void *ctx;
    const obia_dump_options *opt;
    obia_error *err;
    obia_buf line;
    obia_buf tmp;
    obia_buf out;   /* batches lines for the sink */
    bool failed;
} dumper;

static void emit(dumper *d)
{
    obia_buf_append_byte(&d->line, '\n');
    obia_buf_append(&d->out, d->line.data, d->line.len);
    obia_buf_reset(&d->line);
    if (d->out.len >= 32768) {
        if (!d->failed && !d->sink(d->ctx, d->out.data, d->out.len)) {
            d->failed = true;
            obia_error_set(d->err, OBIA_E_IO, "cannot write the output");
        }
        obia_buf_reset(&d->out);
    }
}

static void indent(dumper *d, int depth)
{
    for (int i = 0; i < depth; i++)
        obia_buf_append(&d->line, "  ", 2);
}

/* Append s (UTF-8 or raw) with control characters made visible, cut at max. */
static void append_visible(dumper *d, const uint8_t *s, size_t n)
{
    size_t max = d->opt->max_value_chars;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (max && chars >= max) {
            obia_buf_append(&d->line, "...", 3);
            return;
        }
        if ((c & 0xC0) != 0x80)
            chars++;
        if (c < 0x20 || c == 0x7F)
            obia_buf_appendf(&d->line, "\\x%02X", c);
        else
            obia_buf_append_byte(&d->line, c);
    }
}

static void pad_to(dumper *d, size_t col)
{
    /* count characters, not bytes, so UTF-8 values line up */
    size_t chars = 0;
    for (size_t i = 0; i < d->line.len; i++)
        chars += (d->line.data[i] & 0xC0) != 0x80;
    size_t pad = chars < col ? col - chars + 1 : 1;
    if (obia_buf_reserve(&d->line, pad)) {
        memset(d->line.data + d->line.len, ' ', pad);
        d->line.len += pad;
    }
}

static void append_uint(obia_buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    obia_buf_append(b, tmp + n, sizeof tmp - n);
}

static void append_tag(obia_buf *b, uint32_t tag)
{
    static const char hex[] = "0123456789ABCDEF";
    char t[11] = {'(', hex[(tag >> 28) & 15], hex[(tag >> 24) & 15], hex[(tag >> 20) & 15],
                  hex[(tag >> 16) & 15], ',', hex[(tag >> 12) & 15], hex[(tag >> 8) & 15],
                  hex[(tag >> 4) & 15], hex[tag & 15], ')'};
    obia_buf_append(b, t, sizeof t);
}

static void trailer(dumper *d, const obia_dataset *ds, const obia_element *el,
                    const char *len_text)
{
    pad_to(d, 60);
    obia_buf_append(&d->line, "# ", 2);
    obia_buf_append_str(&d->line, len_text);
    obia_buf_append(&d->line, ", ", 2);
    append_uint(&d->line, obia_element_vm(el));
    obia_buf_append_byte(&d->line, ' ');
    const char *creator;
    size_t clen;
    if ((OBIA_GROUP(el->tag) & 1) && obia_dataset_private_creator(ds, el->tag, &creator, &clen)) {
        const obia_private_entry *pe = obia_private_dict_lookup(creator, clen, el->tag);
        obia_buf_append_byte(&d->line, '[');
        obia_buf_append(&d->line, creator, clen);
        obia_buf_append(&d->line, "] ", 2);
        obia_buf_append_str(&d->line, pe ? pe->name : "");
        return;
    }
    const obia_dict_entry *e = obia_dict_lookup(el->tag);
    const char *kw = e ? e->keyword : "";
    if (!e && (OBIA_GROUP(el->tag) & 1))
        kw = OBIA_ELEM(el->tag) >= 0x10 && OBIA_ELEM(el->tag) <= 0xFF ? "PrivateCreator" : "Private";
    else if (!e && OBIA_ELEM(el->tag) == 0)
        kw = "GroupLength";
    else if (!e)
        kw = "Unknown";
    obia_buf_append_str(&d->line, kw);
}

static void dump_dataset(dumper *d, const obia_dataset *ds, int depth);

static void dump_numbers(dumper *d, const obia_element *el)
{
    obia_vr vr = (obia_vr)el->vr;
    unsigned size = obia_vr_numeric_size(vr);
    size_t count = el->length / size;
    size_t start = d->line.len;
    for (size_t i = 0; i < count; i++) {
        if (d->opt->max_value_chars && d->line.len - start > d->opt->max_value_chars) {
            obia_buf_append(&d->line, "...", 3);
            return;
        }
        if (i)
            obia_buf_append_byte(&d->line, '\\');
        int64_t iv;
        uint64_t uv;
        double dv;
        if (vr == OBIA_VR_AT) {
            const uint8_t *p = el->value + 4 * i;
            obia_buf_appendf(&d->line, "(%04X,%04X)", obia_rd16le(p), obia_rd16le(p + 2));
        } else if (vr == OBIA_VR_FL || vr == OBIA_VR_FD || vr == OBIA_VR_OF || vr == OBIA_VR_OD) {
            obia_element_get_double(el, i, &dv, NULL);
            obia_buf_appendf(&d->line, "%.*g", vr == OBIA_VR_FL || vr == OBIA_VR_OF ? 9 : 17, dv);
        } else if (vr == OBIA_VR_SS || vr == OBIA_VR_SL || vr == OBIA_VR_SV) {
            obia_element_get_int(el, i, &iv, NULL);
            obia_buf_appendf(&d->line, "%lld", (long long)iv);
        } else {
            obia_element_get_uint(el, i, &uv, NULL);
            append_uint(&d->line, uv);
        }
    }
}

static void dump_bytes(dumper *d, const uint8_t *p, size_t n)
{
    size_t show = n;
    size_t max = d->opt->max_value_chars ? d->opt->max_value_chars / 3 : n;
    if (show > max)
        show = max;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < show; i++) {
        char b[3] = {'\\', hex[p[i] >> 4], hex[p[i] & 15]};
        obia_buf_append(&d->line, i ? b : b + 1, i ? 3 : 2);
    }
    if (show < n)
        obia_buf_append(&d->line, "...", 3);
}

static void dump_element(dumper *d, const obia_dataset *ds, const obia_element *el, int depth)
{
    obia_vr vr = (obia_vr)el->vr;
    if (vr == OBIA_VR_NONE || vr >= OBIA_VR_OB_OW)
        vr = OBIA_VR_UN;
    indent(d, depth);
    append_tag(&d->line, el->tag);
    obia_buf_append_byte(&d->line, ' ');
    obia_buf_append(&d->line, obia_vr_name(vr), 2);
    obia_buf_append_byte(&d->line, ' ');
    char len_text[24];
    if (el->flags & EL_UNDEF_LEN)
        strcpy(len_text, "u/l");
    else
        snprintf(len_text, sizeof len_text, "%u", el->length);

    if (vr == OBIA_VR_SQ) {
        obia_buf_appendf(&d->line, "(Sequence with %u item%s)", el->nchild, el->nchild == 1 ? "" : "s");
        trailer(d, ds, el, len_text);
        emit(d);
        for (uint32_t i = 0; i < el->nchild; i++) {
            indent(d, depth + 1);
            const obia_dataset *item = el->u.items[i];
            obia_buf_appendf(&d->line, "(FFFE,E000) na (Item #%u with %u element%s)", i + 1, item->n,
                             item->n == 1 ? "" : "s");
            emit(d);
            dump_dataset(d, item, depth + 2);
            indent(d, depth + 1);
            obia_buf_append_str(&d->line, "(FFFE,E00D) na (ItemDelimitationItem)");
            emit(d);
        }
        indent(d, depth);
        obia_buf_append_str(&d->line, "(FFFE,E0DD) na (SequenceDelimitationItem)");
        emit(d);
        return;
    }
    if (el->flags & EL_ENCAP) {
        size_t total = 0;
        for (uint32_t i = 0; i < el->nchild; i++)
            total += el->u.frags[i].len;
        obia_buf_appendf(&d->line, "(PixelSequence with %u item%s, %zu bytes)", el->nchild,
                         el->nchild == 1 ? "" : "s", total);
        trailer(d, ds, el, len_text);
        emit(d);
        for (uint32_t i = 0; i < el->nchild; i++) {
            indent(d, depth + 1);
            obia_buf_appendf(&d->line, "(FFFE,E000) pi %s(%u bytes) ",
                             i == 0 ? "Basic Offset Table " : "", el->u.frags[i].len);
            dump_bytes(d, el->u.frags[i].data, el->u.frags[i].len);
            emit(d);
        }
        return;
    }
    if (el->length == 0) {
        obia_buf_append_str(&d->line, "(no value)");
    } else if (obia_vr_is_binary(vr)) {
        dump_bytes(d, el->value, el->length);
    } else if (obia_vr_numeric_size(vr) && el->length >= obia_vr_numeric_size(vr)) {
        dump_numbers(d, el);
    } else if (obia_vr_is_string(vr)) {
        obia_buf_append_byte(&d->line, '[');
        const uint8_t *s = el->value;
        size_t n = el->length;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\0'))
            n--;
        if (obia_vr_is_charset_text(vr)) {
            size_t cslen;
            const uint8_t *cs = obia__dataset_charset(ds, &cslen);
            obia_buf_reset(&d->tmp);
            obia_charset_decode(cs, cslen, vr == OBIA_VR_PN, s, n, &d->tmp, NULL, NULL);
            s = d->tmp.data ? d->tmp.data : (const uint8_t *)"";
            n = d->tmp.len;
        }
        append_visible(d, s, n);
        obia_buf_append_byte(&d->line, ']');
    } else {
        dump_bytes(d, el->value, el->length);
    }
    trailer(d, ds, el, len_text);
    emit(d);
}

static void dump_dataset(dumper *d, const obia_dataset *ds, int depth)
{
    for (uint32_t i = 0; i < ds->n && !d->failed; i++)
        dump_element(d, ds, &ds->elems[i], depth);
}

static bool run(const obia_dataset *meta, const obia_dataset *ds, const char *header,
                const obia_dump_options *opt, obia_sink_fn sink, void *ctx, obia_error *err)
{
    obia_dump_options defaults;
    if (!opt) {
        obia_dump_options_init(&defaults);
        opt = &defaults;
    }
    dumper d = {.sink = sink, .ctx = ctx, .opt = opt, .err = err};
    obia_buf_init(&d.line, 1u << 30);
    obia_buf_init(&d.tmp, 1u << 30);
    obia_buf_init(&d.out, 1u << 30);
    if (header)
        obia_buf_append_str(&d.out, header);
    if (meta && meta->n) {
        obia_buf_append_str(&d.out, "# File Meta Information\n");
        dump_dataset(&d, meta, 0);
        obia_buf_append_str(&d.out, "# Dataset\n");
    }
    dump_dataset(&d, ds, 0);
    bool ok = !d.failed && !d.line.failed && !d.out.failed;
    if (d.line.failed || d.out.failed)
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    if (ok && d.out.len && !sink(ctx, d.out.data, d.out.len))
        ok = obia_error_set(err, OBIA_E_IO, "cannot write the output");
    obia_buf_free(&d.line);
    obia_buf_free(&d.tmp);
    obia_buf_free(&d.out);
    return ok;
}

bool obia_dump_dataset(const obia_dataset *ds, const obia_dump_options *opt, obia_sink_fn sink,
                       void *ctx, obia_error *err)
{
    return run(NULL, ds, NULL, opt, sink, ctx, err);
}

bool obia_dump_file(const obia_file *f, const obia_dump_options *opt, obia_sink_fn sink, void *ctx,
                    obia_error *err)
{
    char header[256];
    const obia_uid_entry *ts = obia_uid_lookup(f->ts, strlen(f->ts));
    snprintf(header, sizeof header, "# Transfer Syntax: %s (%s)%s%s\n", f->ts,
             ts ? ts->name : "unknown", f->has_preamble ? "" : ", no preamble",
             f->has_meta ? "" : ", no File Meta");
    bool show_meta = !opt || opt->show_meta;
    bool ok = run(show_meta ? f->meta : NULL, f->body, header, opt, sink, ctx, err);
    if (ok && f->stopped) {
        static const char note[] = "# (stopped before Pixel Data)\n";
        ok = sink(ctx, note, sizeof note - 1) || obia_error_set(err, OBIA_E_IO, "cannot write the output");
    }
    return ok;
}
