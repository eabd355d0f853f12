/* Value representation properties (PS3.5 Table 6.2-1). */
#include "dicom_internal.h"

#include <pthread.h>

static const char *const vr_names[OBIA_VR_COUNT] = {
    [OBIA_VR_NONE] = "",
#define VR_NAME(v) [OBIA_VR_##v] = #v,
    OBIA_VR_LIST(VR_NAME)
#undef VR_NAME
    [OBIA_VR_OB_OW] = "OB or OW",
    [OBIA_VR_US_SS] = "US or SS",
    [OBIA_VR_US_OW] = "US or OW",
    [OBIA_VR_US_SS_OW] = "US or SS or OW",
};

const char *obia_vr_name(obia_vr vr)
{
    return (unsigned)vr < OBIA_VR_COUNT ? vr_names[vr] : "";
}

static uint8_t vr_table[26 * 26];
static pthread_once_t vr_table_once = PTHREAD_ONCE_INIT;

static void build_vr_table(void)
{
    for (int v = OBIA_VR_NONE + 1; v < OBIA_VR_OB_OW; v++)
        vr_table[(vr_names[v][0] - 'A') * 26 + (vr_names[v][1] - 'A')] = (uint8_t)v;
}

obia_vr obia_vr_from_chars(uint8_t a, uint8_t b)
{
    if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z')
        return OBIA_VR_NONE;
    pthread_once(&vr_table_once, build_vr_table);
    return (obia_vr)vr_table[(a - 'A') * 26 + (b - 'A')];
}

bool obia_vr_is_string(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_AE: case OBIA_VR_AS: case OBIA_VR_CS: case OBIA_VR_DA: case OBIA_VR_DS:
    case OBIA_VR_DT: case OBIA_VR_IS: case OBIA_VR_LO: case OBIA_VR_LT: case OBIA_VR_PN:
    case OBIA_VR_SH: case OBIA_VR_ST: case OBIA_VR_TM: case OBIA_VR_UC: case OBIA_VR_UI:
    case OBIA_VR_UR: case OBIA_VR_UT:
        return true;
    default:
        return false;
    }
}

bool obia_vr_is_charset_text(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_SH: case OBIA_VR_LO: case OBIA_VR_ST: case OBIA_VR_LT: case OBIA_VR_PN:
    case OBIA_VR_UC: case OBIA_VR_UT:
        return true;
    default:
        return false;
    }
}

bool obia_vr_is_binary(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_OB: case OBIA_VR_OD: case OBIA_VR_OF: case OBIA_VR_OL: case OBIA_VR_OV:
    case OBIA_VR_OW: case OBIA_VR_UN:
        return true;
    default:
        return false;
    }
}

unsigned obia_vr_numeric_size(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_US: case OBIA_VR_SS: case OBIA_VR_OW:
        return 2;
    case OBIA_VR_UL: case OBIA_VR_SL: case OBIA_VR_FL: case OBIA_VR_AT: case OBIA_VR_OF:
    case OBIA_VR_OL:
        return 4;
    case OBIA_VR_FD: case OBIA_VR_SV: case OBIA_VR_UV: case OBIA_VR_OD: case OBIA_VR_OV:
        return 8;
    default:
        return 0;
    }
}

unsigned obia__swap_unit(obia_vr vr)
{
    /* AT is a pair of 16-bit numbers (group, element) */
    return vr == OBIA_VR_AT ? 2 : obia_vr_numeric_size(vr);
}

bool obia_vr_long_length(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_OB: case OBIA_VR_OD: case OBIA_VR_OF: case OBIA_VR_OL: case OBIA_VR_OV:
    case OBIA_VR_OW: case OBIA_VR_SQ: case OBIA_VR_SV: case OBIA_VR_UC: case OBIA_VR_UN:
    case OBIA_VR_UR: case OBIA_VR_UT: case OBIA_VR_UV:
        return true;
    default:
        return false;
    }
}

uint8_t obia_vr_pad(obia_vr vr)
{
    /* text pads with a space, UIDs and binary and numeric values with NUL */
    return (vr == OBIA_VR_UI || obia_vr_is_binary(vr) || obia_vr_numeric_size(vr)) ? 0 : ' ';
}
