/* fuzz_schema.c: the schema-driven path every log line takes in the log-processor:
 * classification among several managed log types of every parser kind (JSON, csv,
 * fastmatch, regex, native syslog), schema normalization, indicator scanners and the
 * normalized lake line. Checks: no crash, and every accepted line normalizes into one
 * JSON object without a raw newline that parses back. The managed schemas are read once
 * from OC_FUZZ_SCHEMAS (default: schemas/ in the current directory). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "services/log-processor/classify.h"
#include "services/log-processor/indicators.h"
#include "services/log-processor/logtypes.h"
#include "services/log-processor/normalize.h"

/* One JSON-only source (the CloudTrail file form) and one mixed source. */
static const char *const oc_fz_json[] = {"AWS.CloudTrail", "Okta.SystemLog", "GCP.AuditLog",
                                         "Zeek.DNS", "AWS.VPCDns"};
static const char *const oc_fz_mixed[] = {
    "Syslog.RFC5424",   "Syslog.RFC3164",        "AWS.VPCFlow",       "AWS.ALB",
    "Juniper.Firewall", "Apache.AccessCombined", "CiscoUmbrella.DNS", "AWS.CloudTrail"};

static oc_logtypes_t *lt;
static oc_classifier_t *cls_json, *cls_mixed;
static const oc_logtype_t *types_json[8], *types_mixed[8];
static oc_arena_t arena, check;
static oc_indset_t ind;
static oc_buf_t out;

static void oc_fz_init(void) {
  char err[1024];
  const char *dir = getenv("OC_FUZZ_SCHEMAS");
  size_t failed = 0;
  lt = oc_logtypes_new(NULL);
  if (!lt ||
      oc_logtypes_load_dir(lt, dir ? dir : "schemas", true, NULL, &failed, err, sizeof(err)) !=
          OC_OK ||
      failed) {
    fprintf(stderr, "fuzz_schema: could not load the schemas: %s\n", err);
    abort();
  }
  for (size_t i = 0; i < 5; i++)
    if (!(types_json[i] = oc_logtypes_find(lt, oc_fz_json[i]))) abort();
  for (size_t i = 0; i < 8; i++)
    if (!(types_mixed[i] = oc_logtypes_find(lt, oc_fz_mixed[i]))) abort();
  cls_json = oc_classifier_new(64, err, sizeof(err));
  cls_mixed = oc_classifier_new(64, err, sizeof(err));
  if (!cls_json || !cls_mixed) abort();
  oc_arena_init(&arena, 4096);
  oc_arena_init(&check, 4096);
  oc_indset_init(&ind);
  oc_buf_init(&out);
}

static void oc_fz_one(oc_classifier_t *c, const oc_logtype_t *const *types, size_t n, bool records,
                      const char *line, size_t len) {
  char err[256];
  oc_cls_out_t co;
  if (oc_classifier_begin(c, types, n, err, sizeof(err)) != OC_OK) abort();
  /* twice: the second line meets the penalties the first one left */
  for (int round = 0; round < 2; round++) {
    oc_arena_reset(&arena);
    oc_indset_reset(&ind);
    oc_cls_result_t r =
        oc_classifier_line(c, &arena, line, len, records, 1795883860000000, &ind, &co);
    if (r != OC_CLS_OK) {
      if (r != OC_CLS_SKIP && !co.error[0]) abort(); /* a rejection always says why */
      continue;
    }
    oc_norm_meta_t m = {co.type->name,
                        "00000000000000000000000000000000",
                        co.event_time_us,
                        1795883860000000,
                        "fz",
                        "fz",
                        &ind,
                        co.patches};
    oc_normalize_event(&out, co.ev, &m);
    if (!oc_buf_ok(&out)) abort();
    if (memchr(out.data, '\n', out.len)) abort();
    oc_arena_reset(&check);
    const oc_json_t *back = oc_json_parse(&check, out.data, out.len, 200, err, sizeof(err));
    if (!back || back->type != OC_JSON_OBJECT) {
      fprintf(stderr, "normalized line does not parse: %s\n%.*s\n", err, (int)out.len, out.data);
      abort();
    }
    if (!oc_json_get(back, "p_log_type") || !oc_json_get(back, "p_event_time")) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    oc_fz_init();
    ready = 1;
  }
  if (size > 64 * 1024) return 0;
  oc_fz_one(cls_json, types_json, 5, true, (const char *)data, size);
  oc_fz_one(cls_mixed, types_mixed, 8, false, (const char *)data, size);
  return 0;
}
