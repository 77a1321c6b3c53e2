/* fuzz_textparse.c: libFuzzer target for the text parsers of log-type schemas (csv,
 * fastmatch, regex in services/log-processor/), which see every line of a text log from
 * outside. Build and run with fuzz/run.sh <seconds> textparse.
 *
 * The input is split into lines at '\n'. Each line goes through a few fixed parsers (CSV
 * with and without a header, fastmatch Apache combined and syslog-ish alternatives, regex
 * with grok references), and the first line is also compiled as a fastmatch pattern and
 * as a regex (with definitions that nest and one that cycles) that the other lines are then
 * matched against. Every result is checked: an object of string members with unique,
 * non-empty keys whose count matches, values without the configured empty values or
 * surrounding space when trimmed, an error message on every failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/json.h"
#include "services/log-processor/csvparse.h"
#include "services/log-processor/fastmatch.h"
#include "services/log-processor/regexparse.h"

#define CHECK(c)                                                                      \
  do {                                                                                \
    if (!(c)) {                                                                       \
      fprintf(stderr, "fuzz_textparse: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

static oc_csvparse_t *csv_hdr, *csv_cols;
static oc_fastmatch_t *fm_fixed;
static oc_regexparse_t *rx_fixed;

static const char *dash[] = {"-"};
static const char *xn[] = {"request"}, *xt[] = {"%{method} %{uri}"};

static void init(void) {
  char e[256];
  oc_textparse_opts_t trim = {.empty_values = dash, .nempty = 1, .trim_space = true};
  oc_textparse_opts_t plain = {.empty_values = dash, .nempty = 1};
  oc_textparse_opts_t expand = {
      .empty_values = dash, .nempty = 1, .expand_names = xn, .expand_templates = xt, .nexpand = 1};
  const char *cols[] = {"a", "b", "c", "d"};
  csv_hdr = oc_csvparse_new(',', true, NULL, 0, &trim, e, sizeof(e));
  csv_cols = oc_csvparse_new(' ', false, cols, 4, &plain, e, sizeof(e));
  const char *fm[] = {
      "%{ip} %{_} %{user} [%{ts}] \"%{method} %{uri} %{proto}\" %{status} "
      "%{bytes} \"%{ref}\" \"%{ua}\"",
      "<%{pri}>%{} %{host}: [%{msg}]", "%{k}=\"%{v}\" %{rest}"};
  fm_fixed = oc_fastmatch_new(fm, 3, &expand, e, sizeof(e));
  const char *rx[] = {"^%{SYSLOGTIMESTAMP:ts} %{IPORHOST:host} ",
                      "(?:\\[%{DATA:app}\\])?%{GREEDYDATA:msg}$"};
  rx_fixed = oc_regexparse_new(rx, 2, NULL, NULL, 0, &trim, e, sizeof(e));
  CHECK(csv_hdr && csv_cols && fm_fixed && rx_fixed);
}

static bool is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static void check_result(oc_err_t rc, const oc_json_t *o, const char *err, bool trimmed) {
  if (rc != OC_OK) {
    CHECK(o == NULL);
    if (rc != OC_TEXTPARSE_SKIP) CHECK(err[0] != '\0');
    CHECK(rc == OC_TEXTPARSE_SKIP || rc == OC_ERR_INVALID || rc == OC_ERR_LIMIT);
    return;
  }
  CHECK(o && o->type == OC_JSON_OBJECT && o->len <= OC_TEXTPARSE_MAX_FIELDS + 64);
  uint32_t n = 0;
  for (const oc_json_t *m = o->child; m; m = m->next, n++) {
    CHECK(m->type == OC_JSON_STRING && m->key && m->key_len > 0 && m->len > 0);
    CHECK(!(m->len == 1 && m->s[0] == '-')); /* the empty value is absent */
    if (trimmed) CHECK(!is_space(m->s[0]) && !is_space(m->s[m->len - 1]));
    CHECK(oc_json_getn(o, m->key, m->key_len) == m); /* keys are unique */
    (void)memchr(m->s, 0, m->len);                   /* readable */
  }
  CHECK(n == o->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static oc_arena_t arena;
  static bool ready;
  if (!ready) {
    init();
    oc_arena_init(&arena, 1024);
    ready = true;
  }
  const char *text = (const char *)data;
  char err[256];
  oc_csvparse_reset(csv_hdr);
  oc_csvparse_reset(csv_cols);

  /* the first line as a fastmatch pattern and as a regex */
  const char *nl = memchr(text, '\n', size);
  size_t first = nl ? (size_t)(nl - text) : size;
  char *pat = malloc(first + 1);
  CHECK(pat);
  memcpy(pat, text, first);
  pat[first] = '\0';
  const char *pats[] = {pat};
  const char *dn[] = {"A", "B", "C", "LOOP"},
             *dp[] = {"%{B}|x", "%{C}%{C}", "(?P<c>\\d+)", "%{LOOP}"};
  oc_textparse_opts_t opts = {.empty_values = dash, .nempty = 1, .trim_space = size % 2};
  err[0] = '\0';
  oc_fastmatch_t *fm = oc_fastmatch_new(pats, 1, &opts, err, sizeof(err));
  if (!fm) CHECK(err[0] != '\0');
  err[0] = '\0';
  oc_regexparse_t *rx = oc_regexparse_new(pats, 1, dn, dp, 4, &opts, err, sizeof(err));
  if (!rx) CHECK(err[0] != '\0');

  size_t pos = 0;
  while (pos <= size) {
    nl = pos < size ? memchr(text + pos, '\n', size - pos) : NULL;
    size_t len = nl ? (size_t)(nl - (text + pos)) : size - pos;
    const char *line = text + pos;
    oc_json_t *o;
    oc_err_t rc;
#define RUN(call, trimmed)             \
  do {                                 \
    o = NULL;                          \
    err[0] = '\0';                     \
    rc = (call);                       \
    check_result(rc, o, err, trimmed); \
  } while (0)
    RUN(oc_csvparse_line(csv_hdr, &arena, line, len, &o, err, sizeof(err)), true);
    RUN(oc_csvparse_line(csv_cols, &arena, line, len, &o, err, sizeof(err)), false);
    if (rc == OC_OK) CHECK(o->len <= 4);
    RUN(oc_fastmatch_line(fm_fixed, &arena, line, len, &o, err, sizeof(err)), false);
    RUN(oc_regexparse_line(rx_fixed, &arena, line, len, &o, err, sizeof(err)), true);
    if (pos > 0 && fm)
      RUN(oc_fastmatch_line(fm, &arena, line, len, &o, err, sizeof(err)), opts.trim_space);
    if (pos > 0 && rx)
      RUN(oc_regexparse_line(rx, &arena, line, len, &o, err, sizeof(err)), opts.trim_space);
    if (!nl) break;
    pos += len + 1;
  }
  oc_fastmatch_destroy(fm);
  oc_regexparse_destroy(rx);
  free(pat);
  oc_arena_reset(&arena);
  return 0;
}
