/* Small text helpers shared by the modules: JSON strings and 2.25 UIDs. */
#include "obia/util.h"

#include <string.h>

bool obia_json_append(obia_buf *b, const char *s)
{
    obia_buf_append_byte(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            obia_buf_append_byte(b, '\\');
            obia_buf_append_byte(b, *p);
        } else if (*p < 0x20 || *p == 0x7F) {
            obia_buf_appendf(b, "\\u%04x", *p);
        } else {
            obia_buf_append_byte(b, *p);
        }
    }
    return obia_buf_append_byte(b, '"');
}

bool obia_json_fputs(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    return fputc('"', out) != EOF;
}

void obia_uid_2_25(const uint8_t v128[16], char out[64])
{
    unsigned __int128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | v128[i];
    char digits[40];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    memcpy(out, "2.25.", 5);
    for (int i = 0; i < n; i++)
        out[5 + i] = digits[n - 1 - i];
    out[5 + n] = '\0';
}
