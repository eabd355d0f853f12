#include "obia/util.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
#define X(name, text) #name,
    OBIA_STATUS_LIST(X)
#undef X
};

static const char *const status_texts[] = {
#define X(name, text) text,
    OBIA_STATUS_LIST(X)
#undef X
};

#define N_STATUS (sizeof(status_names) / sizeof(status_names[0]))

const char *obia_status_name(obia_status code)
{
    return (unsigned)code < N_STATUS ? status_names[code] : "UNKNOWN";
}

const char *obia_status_text(obia_status code)
{
    return (unsigned)code < N_STATUS ? status_texts[code] : "unknown error";
}

void obia_error_clear(obia_error *err)
{
    if (!err)
        return;
    err->code = OBIA_E_OK;
    err->tag = OBIA_NO_TAG;
    err->offset = OBIA_NO_OFFSET;
    err->message[0] = '\0';
}

bool obia_error_is_set(const obia_error *err)
{
    return err && err->code != OBIA_E_OK;
}

static void vset(obia_error *err, obia_status code, uint32_t tag, uint64_t offset,
                 const char *fmt, va_list ap)
{
    if (!err || err->code != OBIA_E_OK)
        return;
    err->code = code == OBIA_E_OK ? OBIA_E_FORMAT : code;
    err->tag = tag;
    err->offset = offset;
    size_t n = 0;
    size_t cap = sizeof(err->message);
    if (tag != OBIA_NO_TAG && offset != OBIA_NO_OFFSET)
        n = (size_t)snprintf(err->message, cap, "element (%04X,%04X) at offset %llu: ",
                             tag >> 16, tag & 0xFFFF, (unsigned long long)offset);
    else if (tag != OBIA_NO_TAG)
        n = (size_t)snprintf(err->message, cap, "element (%04X,%04X): ", tag >> 16, tag & 0xFFFF);
    else if (offset != OBIA_NO_OFFSET)
        n = (size_t)snprintf(err->message, cap, "at offset %llu: ", (unsigned long long)offset);
    if (n >= cap)
        n = cap - 1;
    vsnprintf(err->message + n, cap - n, fmt, ap);
}

bool obia_error_set(obia_error *err, obia_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, OBIA_NO_TAG, OBIA_NO_OFFSET, fmt, ap);
    va_end(ap);
    return false;
}

bool obia_error_set_at(obia_error *err, obia_status code, uint32_t tag, uint64_t offset,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, tag, offset, fmt, ap);
    va_end(ap);
    return false;
}
