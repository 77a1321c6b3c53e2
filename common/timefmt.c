/* timefmt.c: schema time formats (see timefmt.h). A layout is compiled into a list of
 * ops (a directive letter or a literal byte); parsing walks the ops over the input once,
 * collects the fields, then validates the date and converts it with the same civil-day
 * arithmetic as timeutil.c. Nothing here reads the locale, TZ or the clock. */
#include "common/timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/timeutil.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

/* Field bits a layout sets (oc_timefmt_t.flags). */
enum {
  F_YEAR = 1 << 0, /* %Y %y */
  F_MON = 1 << 1,  /* %m %b %B */
  F_DAY = 1 << 2,  /* %d %e */
  F_YDAY = 1 << 3, /* %j */
  F_HOUR = 1 << 4, /* %H %I */
  F_MIN = 1 << 5,
  F_SEC = 1 << 6,
  F_FRAC = 1 << 7,
  F_ZONE = 1 << 8, /* %z %Z */
  F_AMPM = 1 << 9,
  F_EPOCH = 1 << 10,
  F_WDAY = 1 << 11,
  F_H12 = 1 << 12 /* the hour came from %I */
};

static const char *const month_names[12] = {"january",   "february", "march",    "april",
                                            "may",       "june",     "july",     "august",
                                            "september", "october",  "november", "december"};
static const char *const wday_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday"};

__attribute__((format(printf, 3, 4))) static void set_err(char *errstr, size_t errstr_size,
                                                          const char *fmt, ...) {
  if (!errstr || !errstr_size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
}

static int directive_flag(int c) {
  switch (c) {
    case 'Y':
    case 'y':
      return F_YEAR;
    case 'm':
    case 'b':
    case 'B':
      return F_MON;
    case 'd':
    case 'e':
      return F_DAY;
    case 'j':
      return F_YDAY;
    case 'H':
      return F_HOUR;
    case 'I':
      return F_HOUR | F_H12;
    case 'M':
      return F_MIN;
    case 'S':
      return F_SEC;
    case 'f':
      return F_FRAC;
    case 'z':
    case 'Z':
      return F_ZONE;
    case 'p':
      return F_AMPM;
    case 's':
      return F_EPOCH;
    case 'a':
    case 'A':
      return F_WDAY;
    default:
      return 0;
  }
}

/* Appends a directive (c != 0) or a literal byte; false with errstr when the directive
 * repeats a field or the layout has too many ops. */
static bool add_op(oc_timefmt_t *f, int c, char lit, const char *spec, char *errstr,
                   size_t errstr_size) {
  if (c) {
    int fl = directive_flag(c);
    if (f->flags & fl & ~F_H12) {
      set_err(errstr, errstr_size, "time format \"%s\": %%%c sets a field given before", spec, c);
      return false;
    }
    f->flags |= (uint16_t)fl;
  }
  if (f->nops >= OC_TIMEFMT_MAX_SPEC) {
    set_err(errstr, errstr_size, "time format \"%s\" is too long", spec);
    return false;
  }
  f->op[f->nops] = (unsigned char)c;
  f->lit[f->nops] = lit;
  f->nops++;
  return true;
}

bool oc_timefmt_compile(oc_timefmt_t *f, const char *spec, char *errstr, size_t errstr_size) {
  memset(f, 0, sizeof(*f));
  if (!spec || !*spec) {
    set_err(errstr, errstr_size, "empty time format");
    return false;
  }
  static const struct {
    const char *name;
    oc_timefmt_kind_t kind;
  } named[] = {{"rfc3339", OC_TIMEFMT_RFC3339},
               {"unix", OC_TIMEFMT_UNIX},
               {"unix_ms", OC_TIMEFMT_UNIX_MS},
               {"unix_us", OC_TIMEFMT_UNIX_US},
               {"unix_ns", OC_TIMEFMT_UNIX_NS}};
  for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
    if (strcmp(spec, named[k].name) == 0) {
      f->kind = named[k].kind;
      return true;
    }
  }
  size_t len = strlen(spec);
  if (len > OC_TIMEFMT_MAX_SPEC) {
    set_err(errstr, errstr_size, "time format \"%.40s...\" is longer than %d bytes", spec,
            OC_TIMEFMT_MAX_SPEC);
    return false;
  }
  f->kind = OC_TIMEFMT_LAYOUT;
  bool ok = true, has_directive = false;
  for (size_t i = 0; ok && i < len; i++) {
    char c = spec[i];
    if (c != '%') {
      ok = add_op(f, 0, c, spec, errstr, errstr_size);
      continue;
    }
    if (i + 1 >= len) {
      set_err(errstr, errstr_size, "time format \"%s\" ends with a lone %%", spec);
      return false;
    }
    unsigned char d = (unsigned char)spec[++i];
    if (d == '%') {
      ok = add_op(f, 0, '%', spec, errstr, errstr_size);
    } else if (d == 'T' || d == 'F') { /* %H:%M:%S and %Y-%m-%d */
      const char *seq = d == 'T' ? "H:M:S" : "Y-m-d";
      for (int k = 0; ok && k < 5; k++)
        ok = add_op(f, k % 2 ? 0 : seq[k], k % 2 ? seq[k] : 0, spec, errstr, errstr_size);
      has_directive = true;
    } else if (directive_flag(d)) {
      ok = add_op(f, d, 0, spec, errstr, errstr_size);
      has_directive = true;
    } else {
      if (d >= 0x21 && d < 0x7f)
        set_err(errstr, errstr_size, "time format \"%s\": unknown directive %%%c", spec, d);
      else
        set_err(errstr, errstr_size, "time format \"%s\": unknown directive (byte 0x%02x)", spec,
                d);
      return false;
    }
  }
  if (!ok) return false;
  if (!has_directive) {
    set_err(errstr, errstr_size, "time format \"%s\" has no %% directive", spec);
    return false;
  }
  if ((f->flags & F_FRAC) && !(f->flags & (F_SEC | F_EPOCH))) {
    set_err(errstr, errstr_size, "time format \"%s\": %%f without %%S or %%s", spec);
    return false;
  }
  return true;
}

/* ---- parsing ---- */

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Greedy run of min..max digits at s[*i]. */
static bool read_num(const char *s, size_t n, size_t *i, int min, int max, int *out) {
  int v = 0, k = 0;
  while (k < max && *i < n && s[*i] >= '0' && s[*i] <= '9') {
    v = v * 10 + (s[*i] - '0');
    (*i)++;
    k++;
  }
  if (k < min) return false;
  *out = v;
  return true;
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive match of the first len bytes of name at s[*i]. */
static bool match_ci(const char *s, size_t n, size_t *i, const char *name, size_t len) {
  if (n - *i < len) return false;
  for (size_t k = 0; k < len; k++)
    if (lower((unsigned char)s[*i + k]) != name[k]) return false;
  *i += len;
  return true;
}

/* A full English name or its 3-letter abbreviation; returns the index or -1. */
static int read_name(const char *s, size_t n, size_t *i, const char *const *names, int count) {
  if (n - *i < 3) return -1;
  int c0 = lower((unsigned char)s[*i]), c1 = lower((unsigned char)s[*i + 1]),
      c2 = lower((unsigned char)s[*i + 2]);
  for (int k = 0; k < count; k++) {
    const char *name = names[k];
    if (name[0] != c0 || name[1] != c1 || name[2] != c2) continue;
    /* the abbreviations are unique, so the first hit is the one; take the full name when
     * it follows */
    *i += 3;
    size_t rest = strlen(name + 3);
    (void)match_ci(s, n, i, name + 3, rest);
    return k;
  }
  return -1;
}

typedef struct {
  int64_t epoch;
  int year, mon, day, yday, hour, min, sec;
  int64_t frac_us;
  int64_t off_s;
  bool pm, epoch_neg;
} fields_t;

static bool read_zone(const char *s, size_t n, size_t *i, int64_t *off_s) {
  if (*i >= n) return false;
  char c = s[*i];
  if (c == 'Z' || c == 'z') {
    (*i)++;
    *off_s = 0;
    return true;
  }
  if (c != '+' && c != '-') return false;
  (*i)++;
  int hh = 0, mm = 0;
  if (!read_num(s, n, i, 2, 2, &hh)) return false;
  if (*i < n && s[*i] == ':') {
    (*i)++;
    if (!read_num(s, n, i, 2, 2, &mm)) return false;
  } else if (n - *i >= 2 && s[*i] >= '0' && s[*i] <= '9') {
    if (!read_num(s, n, i, 2, 2, &mm)) return false;
  }
  if (hh > 23 || mm > 59) return false;
  *off_s = (int64_t)(hh * 3600 + mm * 60) * (c == '-' ? -1 : 1);
  return true;
}

static bool run_ops(const oc_timefmt_t *f, const char *s, size_t n, fields_t *v) {
  size_t i = 0;
  for (uint16_t k = 0; k < f->nops; k++) {
    int op = f->op[k];
    if (op == 0) {
      char c = f->lit[k];
      if (c == ' ') {
        if (i >= n || (s[i] != ' ' && s[i] != '\t')) return false;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
          i++;
      } else {
        if (i >= n || s[i] != c) return false;
        i++;
      }
      continue;
    }
    int x = 0;
    switch (op) {
      case 'Y':
        if (!read_num(s, n, &i, 4, 4, &v->year)) return false;
        break;
      case 'y':
        if (!read_num(s, n, &i, 2, 2, &x)) return false;
        v->year = x < 69 ? 2000 + x : 1900 + x;
        break;
      case 'm':
        if (!read_num(s, n, &i, 1, 2, &v->mon) || v->mon < 1 || v->mon > 12) return false;
        break;
      case 'b':
      case 'B':
        x = read_name(s, n, &i, month_names, 12);
        if (x < 0) return false;
        v->mon = x + 1;
        break;
      case 'd':
      case 'e':
        if (i + 1 < n && s[i] == ' ' && s[i + 1] >= '0' && s[i + 1] <= '9') i++;
        if (!read_num(s, n, &i, 1, 2, &v->day) || v->day < 1 || v->day > 31) return false;
        break;
      case 'j':
        if (!read_num(s, n, &i, 1, 3, &v->yday) || v->yday < 1 || v->yday > 366) return false;
        break;
      case 'H':
        if (!read_num(s, n, &i, 1, 2, &v->hour) || v->hour > 23) return false;
        break;
      case 'I':
        if (!read_num(s, n, &i, 1, 2, &v->hour) || v->hour < 1 || v->hour > 12) return false;
        break;
      case 'M':
        if (!read_num(s, n, &i, 1, 2, &v->min) || v->min > 59) return false;
        break;
      case 'S': /* no leap seconds, as oc_time_parse_rfc3339 */
        if (!read_num(s, n, &i, 1, 2, &v->sec) || v->sec > 59) return false;
        break;
      case 'f': {
        int digits = 0;
        int64_t ns = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 9) {
          ns = ns * 10 + (s[i] - '0');
          i++;
          digits++;
        }
        if (digits == 0) return false;
        for (; digits < 9; digits++)
          ns *= 10;
        v->frac_us = ns / 1000;
        break;
      }
      case 'p':
        if (match_ci(s, n, &i, "am", 2))
          v->pm = false;
        else if (match_ci(s, n, &i, "pm", 2))
          v->pm = true;
        else
          return false;
        break;
      case 'z':
        if (!read_zone(s, n, &i, &v->off_s)) return false;
        break;
      case 'Z':
        if (!match_ci(s, n, &i, "utc", 3) && !match_ci(s, n, &i, "gmt", 3) &&
            !match_ci(s, n, &i, "z", 1))
          return false;
        v->off_s = 0;
        break;
      case 'a':
      case 'A':
        if (read_name(s, n, &i, wday_names, 7) < 0) return false;
        break;
      case 's': {
        if (i < n && s[i] == '-') {
          v->epoch_neg = true;
          i++;
        }
        int digits = 0;
        int64_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
          if (++digits > 12) return false; /* 10^12 s is past year 30000 */
          e = e * 10 + (s[i] - '0');
          i++;
        }
        if (digits == 0) return false;
        v->epoch = v->epoch_neg ? -e : e;
        break;
      }
      default:
        return false; /* cannot happen: compile admits only the cases above */
    }
  }
  return i == n;
}

static int64_t year_of(int64_t us) {
  int64_t days = us / US_PER_DAY;
  if (us % US_PER_DAY < 0) days--;
  /* civil_from_days, year only */
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10);
}

static int64_t to_us(int64_t days, const fields_t *v) {
  int64_t secs = days * 86400 + v->hour * 3600 + v->min * 60 + v->sec - v->off_s;
  return secs * US_PER_SEC + v->frac_us;
}

static int64_t date_days(int64_t y, uint16_t flags, const fields_t *v) {
  if ((flags & F_YDAY) && !(flags & (F_MON | F_DAY))) return days_from_civil(y, 1, 1) + v->yday - 1;
  return days_from_civil(y, v->mon, v->day);
}

static bool parse_layout(const oc_timefmt_t *f, const char *s, size_t n, int64_t ref_us,
                         int64_t *out_us) {
  fields_t v = {.mon = 1, .day = 1, .yday = 1};
  if (!run_ops(f, s, n, &v)) return false;
  uint16_t fl = f->flags;
  if (fl & F_EPOCH) {
    int64_t us = v.epoch * US_PER_SEC;
    *out_us = v.epoch_neg ? us - v.frac_us : us + v.frac_us;
    return true;
  }
  if (fl & F_H12) v.hour = v.hour % 12 + (v.pm ? 12 : 0);

  int64_t y = v.year;
  int64_t days;
  /* a reference outside years 1..9999 would only overflow the arithmetic below */
  static const int64_t ref_lo = INT64_C(-62135596800) * US_PER_SEC; /* 0001-01-01 */
  static const int64_t ref_hi = INT64_C(253402300799) * US_PER_SEC; /* 9999-12-31 */
  ref_us = ref_us < ref_lo ? ref_lo : ref_us > ref_hi ? ref_hi : ref_us;
  if (fl & F_YEAR) {
    days = date_days(y, fl, &v);
  } else {
    /* no year (syslog): the reference year, or the one before when the time would be
     * more than a day in the future (December lines read in January) */
    y = year_of(ref_us);
    days = date_days(y, fl, &v);
    if (to_us(days, &v) > ref_us + US_PER_DAY) {
      y--;
      days = date_days(y, fl, &v);
    }
  }
  if ((fl & F_YDAY) && !(fl & (F_MON | F_DAY))) {
    if (v.yday > (is_leap(y) ? 366 : 365)) return false;
  } else if (v.day > days_in_month(y, v.mon)) {
    return false;
  }
  *out_us = to_us(days, &v);
  return true;
}

/* A decimal number (optional '-', digits, fraction, exponent) times 10^scale, floored to
 * an integer; false when malformed or out of int64 range. */
static bool parse_decimal(const char *s, size_t n, int scale, int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (i < n && s[i] == '-') {
    neg = true;
    i++;
  }
  uint64_t mant = 0;
  int sig = 0, exp10 = 0, int_digits = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    if (++int_digits > 400) return false;
    if (sig < 18) {
      mant = mant * 10 + (uint64_t)(s[i] - '0');
      if (mant) sig++;
    } else {
      exp10++;
    }
    i++;
  }
  if (int_digits == 0) return false;
  if (i < n && s[i] == '.') {
    i++;
    int frac_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (++frac_digits > 400) return false;
      if (sig < 18) {
        mant = mant * 10 + (uint64_t)(s[i] - '0');
        if (mant) sig++;
        exp10--;
      }
      i++;
    }
    if (frac_digits == 0) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    int e = 0, ed = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (++ed > 4) return false;
      e = e * 10 + (s[i] - '0');
      i++;
    }
    if (ed == 0) return false;
    exp10 += eneg ? -e : e;
  }
  if (i != n) return false;

  static const uint64_t pow10[19] = {1,
                                     10,
                                     100,
                                     1000,
                                     10000,
                                     100000,
                                     1000000,
                                     10000000,
                                     100000000,
                                     1000000000,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL};
  int total = exp10 + scale;
  uint64_t q;
  bool inexact = false;
  if (mant == 0) {
    q = 0;
  } else if (total >= 0) {
    if (total > 18 || mant > (uint64_t)INT64_MAX / pow10[total]) return false;
    q = mant * pow10[total];
  } else if (-total > 18) {
    q = 0;
    inexact = true;
  } else {
    q = mant / pow10[-total];
    inexact = mant % pow10[-total] != 0;
  }
  /* floor, so that times before the epoch round the same way as after it */
  if (neg) {
    if (inexact) q++;
    *out = -(int64_t)q;
  } else {
    *out = (int64_t)q;
  }
  return true;
}

bool oc_timefmt_parse(const oc_timefmt_t *f, const char *s, size_t n, int64_t ref_us,
                      int64_t *out_us) {
  if (!f || (!s && n)) return false;
  switch (f->kind) {
    case OC_TIMEFMT_RFC3339:
      return oc_time_parse_rfc3339(s, n, out_us);
    case OC_TIMEFMT_UNIX:
      return parse_decimal(s, n, 6, out_us);
    case OC_TIMEFMT_UNIX_MS:
      return parse_decimal(s, n, 3, out_us);
    case OC_TIMEFMT_UNIX_US:
      return parse_decimal(s, n, 0, out_us);
    case OC_TIMEFMT_UNIX_NS:
      return parse_decimal(s, n, -3, out_us);
    case OC_TIMEFMT_LAYOUT:
      return parse_layout(f, s, n, ref_us, out_us);
  }
  return false;
}
