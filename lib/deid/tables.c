/* Lookups in the generated de-identification tables. */
#include "deid_internal.h"

#include <string.h>

const deid_rule *deid_rule_find(uint32_t tag)
{
    size_t lo = 0, hi = deid_rule_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (deid_rules[mid].tag < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < deid_rule_count && deid_rules[lo].tag == tag)
        return &deid_rules[lo];
    for (size_t i = 0; i < deid_pattern_count; i++)
        if ((tag & deid_patterns[i].mask) == deid_patterns[i].tag)
            return &deid_patterns[i];
    return NULL;
}

const deid_safe_attr *deid_safe_attr_find(uint32_t tag)
{
    size_t lo = 0, hi = deid_safe_attr_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (deid_safe_attrs[mid].tag < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < deid_safe_attr_count && deid_safe_attrs[lo].tag == tag)
        return &deid_safe_attrs[lo];
    /* repeating groups (60xx,0010 ...) are few: scan them */
    for (size_t i = 0; i < deid_safe_attr_pattern_count; i++)
        if ((tag & deid_safe_attr_patterns[i].mask) == deid_safe_attr_patterns[i].tag)
            return &deid_safe_attr_patterns[i];
    return NULL;
}

static int creator_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

bool deid_safe_private_find(uint16_t group, uint8_t elem, const char *creator, size_t len)
{
    size_t lo = 0, hi = deid_safe_private_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const deid_safe_private *e = &deid_safe_privates[mid];
        int c = e->group != group ? (e->group < group ? -1 : 1)
                : e->elem != elem ? (e->elem < elem ? -1 : 1)
                                  : creator_cmp(e->creator, e->creator_len, creator, len);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const deid_safe_private *e = lo < deid_safe_private_count ? &deid_safe_privates[lo] : NULL;
    return e && e->group == group && e->elem == elem &&
           creator_cmp(e->creator, e->creator_len, creator, len) == 0;
}

const deid_code *deid_code_find(const char *value)
{
    for (size_t i = 0; i < deid_code_count; i++)
        if (strcmp(deid_codes[i].value, value) == 0)
            return &deid_codes[i];
    return NULL;
}
