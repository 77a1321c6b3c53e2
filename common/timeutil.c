/* timeutil.c: UTC timestamps as int64 microseconds (see timeutil.h). Calendar maths is
 * Howard Hinnant's days_from_civil / civil_from_days, valid for every int64 day count we
 * can reach, so no timegm()/gmtime_r() and no dependency on TZ. */
#include "common/timeutil.h"

#include <time.h>

#define OC_US_PER_SEC INT64_C(1000000)
#define OC_US_PER_DAY (INT64_C(86400) * OC_US_PER_SEC)

int64_t oc_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * OC_US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t oc_monotonic_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * OC_US_PER_SEC + ts.tv_nsec / 1000;
}

static int64_t oc_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                   /* [0, 399] */
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

static void oc_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int oc_days_in_month(int y, int m) {
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return dim[m - 1];
}

/* Reads exactly n digits at s[*i]; false when any is not a digit or input ends. */
static bool oc_digits(const char *s, size_t len, size_t *i, int n, int *out) {
  if (len - *i < (size_t)n) return false;
  int v = 0;
  for (int k = 0; k < n; k++) {
    unsigned char c = (unsigned char)s[*i + (size_t)k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += (size_t)n;
  *out = v;
  return true;
}

static bool oc_expect(const char *s, size_t len, size_t *i, char c) {
  if (*i >= len || s[*i] != c) return false;
  (*i)++;
  return true;
}

bool oc_time_parse_rfc3339(const char *s, size_t n, int64_t *out_us) {
  size_t i = 0;
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (!s) return false;
  if (!oc_digits(s, n, &i, 4, &year) || !oc_expect(s, n, &i, '-') ||
      !oc_digits(s, n, &i, 2, &mon) || !oc_expect(s, n, &i, '-') || !oc_digits(s, n, &i, 2, &day))
    return false;
  if (i >= n || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return false;
  i++;
  if (!oc_digits(s, n, &i, 2, &hour) || !oc_expect(s, n, &i, ':') ||
      !oc_digits(s, n, &i, 2, &min) || !oc_expect(s, n, &i, ':') || !oc_digits(s, n, &i, 2, &sec))
    return false;
  if (mon < 1 || mon > 12 || day < 1 || day > oc_days_in_month(year, mon)) return false;
  if (hour > 23 || min > 59 || sec > 59) return false; /* no leap seconds, as Go */

  int64_t frac_us = 0;
  if (i < n && s[i] == '.') {
    i++;
    int digits = 0;
    int64_t ns = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (++digits > 9) return false;
      ns = ns * 10 + (s[i] - '0');
      i++;
    }
    if (digits == 0) return false;
    for (int k = digits; k < 9; k++)
      ns *= 10;
    frac_us = ns / 1000; /* truncate nanoseconds, as Panther does */
  }

  int64_t offset_s = 0;
  if (i < n) {
    char c = s[i++];
    if (c == 'Z' || c == 'z') {
      /* UTC */
    } else if (c == '+' || c == '-') {
      int oh, om;
      if (!oc_digits(s, n, &i, 2, &oh)) return false;
      if (i < n && s[i] == ':') i++;
      if (!oc_digits(s, n, &i, 2, &om)) return false;
      if (oh > 23 || om > 59) return false;
      offset_s = (int64_t)(oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
    } else {
      return false;
    }
  }
  /* A missing offset is read as UTC (ISO 8601 without a zone, common in logs). */
  if (i != n) return false;

  int64_t days = oc_days_from_civil(year, mon, day);
  int64_t secs = days * 86400 + hour * 3600 + min * 60 + sec - offset_s;
  *out_us = secs * OC_US_PER_SEC + frac_us;
  return true;
}

typedef struct {
  int64_t year;
  int mon, day, hour, min, sec;
  int64_t us;
} oc_tm_t;

static void oc_time_split(int64_t us, oc_tm_t *tm) {
  /* floor division so times before the epoch split the right way */
  int64_t days = us / OC_US_PER_DAY;
  int64_t rem = us % OC_US_PER_DAY;
  if (rem < 0) {
    rem += OC_US_PER_DAY;
    days--;
  }
  oc_civil_from_days(days, &tm->year, &tm->mon, &tm->day);
  int64_t s = rem / OC_US_PER_SEC;
  tm->us = rem % OC_US_PER_SEC;
  tm->hour = (int)(s / 3600);
  tm->min = (int)(s / 60 % 60);
  tm->sec = (int)(s % 60);
}

/* Years outside 0000..9999 cannot be written in the fixed-width formats: clamp. */
static int64_t oc_time_clamp(int64_t us) {
  static const int64_t lo = INT64_C(-62167219200) * OC_US_PER_SEC;          /* 0000-01-01 */
  static const int64_t hi = INT64_C(253402300799) * OC_US_PER_SEC + 999999; /* 9999-12-31 */
  return us < lo ? lo : us > hi ? hi : us;
}

static char *oc_put_digits(char *p, int64_t v, int width) {
  for (int k = width - 1; k >= 0; k--) {
    p[k] = (char)('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

static char *oc_time_format_common(int64_t us, char *p, char sep) {
  oc_tm_t tm;
  oc_time_split(oc_time_clamp(us), &tm);
  p = oc_put_digits(p, tm.year, 4);
  *p++ = '-';
  p = oc_put_digits(p, tm.mon, 2);
  *p++ = '-';
  p = oc_put_digits(p, tm.day, 2);
  *p++ = sep;
  p = oc_put_digits(p, tm.hour, 2);
  *p++ = ':';
  p = oc_put_digits(p, tm.min, 2);
  *p++ = ':';
  p = oc_put_digits(p, tm.sec, 2);
  *p++ = '.';
  return oc_put_digits(p, tm.us, 6);
}

void oc_time_format_panther(int64_t us, char out[32]) {
  char *p = oc_time_format_common(us, out, ' ');
  *p++ = '0';
  *p++ = '0';
  *p++ = '0';
  *p = '\0';
}

void oc_time_format_rfc3339(int64_t us, char out[32]) {
  char *p = oc_time_format_common(us, out, 'T');
  *p++ = 'Z';
  *p = '\0';
}

void oc_time_utc_fields(int64_t us, int *year, int *month, int *day, int *hour) {
  oc_tm_t tm;
  oc_time_split(us, &tm);
  if (year) *year = (int)tm.year;
  if (month) *month = tm.mon;
  if (day) *day = tm.day;
  if (hour) *hour = tm.hour;
}
