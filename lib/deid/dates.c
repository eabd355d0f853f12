/* Date arithmetic for shifting DA and DT values by whole days. */
#include "deid_internal.h"

#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (H. Hinnant's civil calendar algorithms). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static bool digits(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static unsigned num(const uint8_t *p, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(p[i] - '0');
    return v;
}

static bool parse_date(const uint8_t *p, int64_t *days)
{
    if (!digits(p, 8))
        return false;
    unsigned y = num(p, 4), m = num(p + 4, 2), d = num(p + 6, 2);
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

static bool format_date(int64_t days, char out[9])
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return false;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = (char)('0' + m / 10);
    out[5] = (char)('0' + m % 10);
    out[6] = (char)('0' + d / 10);
    out[7] = (char)('0' + d % 10);
    out[8] = '\0';
    return true;
}

bool deid_shift_da(const uint8_t *p, size_t n, int32_t days, char out[9])
{
    int64_t v;
    if (n != 8 || !parse_date(p, &v))
        return false;
    return format_date(v + days, out);
}

bool deid_shift_dt(const uint8_t *p, size_t n, int32_t days, obia_buf *out)
{
    /* YYYY[MM[DD[HH[MM[SS[.F{1-6}]]]]]][&ZZXX]: a value shorter than a date
     * is completed to the first of its year or month for the shift, and
     * written back at its own precision. */
    size_t date_len = 0;
    while (date_len < n && date_len < 8 && p[date_len] >= '0' && p[date_len] <= '9')
        date_len++;
    if (date_len != 4 && date_len != 6 && date_len != 8)
        return false;
    uint8_t full[8] = {'0', '0', '0', '0', '0', '1', '0', '1'};
    memcpy(full, p, date_len);
    int64_t v;
    char shifted[9];
    if (!parse_date(full, &v) || !format_date(v + days, shifted))
        return false;
    return obia_buf_append(out, shifted, date_len) && obia_buf_append(out, p + date_len, n - date_len);
}

bool deid_years_between(const uint8_t *birth, size_t bn, const uint8_t *on, size_t on_n, int *years)
{
    int64_t a, b;
    if (bn < 8 || on_n < 8 || !parse_date(birth, &a) || !parse_date(on, &b) || b < a)
        return false;
    int y = (int)num(on, 4) - (int)num(birth, 4);
    if (num(on + 4, 4) < num(birth + 4, 4))   /* MMDD not yet reached */
        y--;
    *years = y;
    return true;
}

bool deid_days_between(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, int64_t *days)
{
    int64_t x, y;
    if (an < 8 || bn < 8 || !parse_date(a, &x) || !parse_date(b, &y))
        return false;
    *days = y - x;
    return true;
}
