/* Log-type schemas: loading (and refusing with file, line and reason), and applying:
 * required fields, type checks and conversions, timestamps in every format rewritten in
 * Panther's form, validate allow/deny, arrays and refs, indicators, check-only mode. */
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "oc_test.h"
#include "services/log-processor/schema.h"

static oc_arena_t arena;

static oc_schema_t *S(const char *yaml) {
  char err[512];
  oc_schema_t *s = oc_schema_load(yaml, strlen(yaml), "t.yml", err, sizeof(err));
  if (!s) fprintf(stderr, "schema: %s\n", err);
  return s;
}

static const char *load_error(const char *yaml) {
  static char err[512];
  oc_schema_t *s = oc_schema_load(yaml, strlen(yaml), "t.yml", err, sizeof(err));
  if (s) {
    oc_schema_destroy(s);
    return "(loaded)";
  }
  return err;
}

/* Applies s to text; returns the serialized event or "REJECT <reason>". */
static const char *apply(const oc_schema_t *s, const char *text, int64_t *et, oc_indset_t *ind) {
  static char out[4096];
  char err[512];
  oc_buf_t b;
  int64_t t = 0;
  oc_json_t *ev = oc_json_parse(&arena, text, strlen(text), 64, err, sizeof(err));
  if (!ev) return "BAD TEST JSON";
  oc_sa_result_t r = oc_schema_apply(s, &arena, ev, false, ind, 1000, &t, err, sizeof(err));
  if (et) *et = t;
  if (r != OC_SA_OK) {
    snprintf(out, sizeof(out), "REJECT %s", err);
    return out;
  }
  oc_buf_init(&b);
  oc_json_serialize(&b, ev);
  snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
  oc_buf_deinit(&b);
  return out;
}

static void test_load_errors(void) {
  OC_CHECK(strstr(load_error("fields: []\n"), "missing \"schema\"") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - name: x\n    type: strin\n"),
                  "t.yml:4: unknown field type \"strin\"") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: x, type: string}\n  - {name: x, "
                             "type: int}\n"),
                  "declared twice") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: t, type: timestamp}\n"),
                  "needs timeFormats") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: t, type: timestamp, timeFormats: "
                             "['%Q'], isEventTime: true}\n"),
                  "time format") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: a, type: timestamp, timeFormat: "
                             "unix, isEventTime: true}\n  - {name: b, type: timestamp, timeFormat: "
                             "unix, isEventTime: true}\n"),
                  "second isEventTime") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: x, type: string, indicators: "
                             "[ipp]}\n"),
                  "unknown indicator \"ipp\"") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: p_x, type: string}\n"), "p_") !=
           NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nparser:\n  csv: {delimiter: ';;'}\nfields: []\n"),
                  "one character") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nparser:\n  native: {name: Nope}\nfields: []\n"),
                  "unknown native parser") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: o, type: object}\n"),
                  "needs fields") != NULL);
  OC_CHECK(strstr(load_error("schema: A.B\nfields:\n  - {name: r, type: ref, target: Nope}\n"),
                  "not in definitions") != NULL);
  OC_CHECK(strstr(load_error("schema: [\n"), "invalid YAML") != NULL);
  OC_CHECK(strstr(load_error("version: 2\nschema: A.B\nfields: []\n"), "version") != NULL);
}

static void test_types_and_conversions(void) {
  oc_schema_t *s =
      S("schema: T.Types\n"
        "fields:\n"
        "  - {name: s, type: string}\n"
        "  - {name: i, type: int}\n"
        "  - {name: sm, type: smallint}\n"
        "  - {name: b, type: bigint}\n"
        "  - {name: f, type: float}\n"
        "  - {name: ok, type: boolean}\n"
        "  - {name: j, type: json}\n"
        "  - {name: arr, type: array, element: {type: bigint}}\n");
  OC_CHECK(s != NULL);
  if (!s) return;
  OC_CHECK_STR(
      apply(s,
            "{\"s\":42,\"i\":\"-7\",\"sm\":300,\"b\":\"9223372036854775807\",\"f\":\"1.5e3\","
            "\"ok\":\"TRUE\",\"j\":{\"any\":[1]},\"arr\":[1,\"2\",null],\"extra\":\"kept\"}",
            NULL, NULL),
      "{\"s\":\"42\",\"i\":-7,\"sm\":300,\"b\":9223372036854775807,\"f\":1.5e3,\"ok\":true,"
      "\"j\":{\"any\":[1]},\"arr\":[1,2,null],\"extra\":\"kept\"}");
  OC_CHECK_STR(apply(s, "{\"s\":true}", NULL, NULL), "{\"s\":\"true\"}");
  /* numeric strings become valid JSON numbers (fuzz_schema found "01" kept as is) */
  OC_CHECK_STR(apply(s, "{\"i\":\"007\",\"sm\":\"-00\",\"b\":\"-0012\"}", NULL, NULL),
               "{\"i\":7,\"sm\":0,\"b\":-12}");
  OC_CHECK(strstr(apply(s, "{\"s\":{}}", NULL, NULL), "field \"s\": expected a string"));
  OC_CHECK(strstr(apply(s, "{\"i\":2147483648}", NULL, NULL), "expected an integer (int)"));
  OC_CHECK(strstr(apply(s, "{\"sm\":40000}", NULL, NULL), "(smallint)"));
  OC_CHECK(strstr(apply(s, "{\"b\":\"9223372036854775808\"}", NULL, NULL), "(bigint)"));
  OC_CHECK(strstr(apply(s, "{\"i\":1.5}", NULL, NULL), "expected an integer"));
  OC_CHECK(strstr(apply(s, "{\"f\":\"NaN\"}", NULL, NULL), "expected a number"));
  OC_CHECK(strstr(apply(s, "{\"ok\":\"yes\"}", NULL, NULL), "expected a boolean"));
  OC_CHECK(strstr(apply(s, "{\"arr\":[1,\"x\"]}", NULL, NULL), "field \"arr.[]\""));
  OC_CHECK(strstr(apply(s, "{\"arr\":{}}", NULL, NULL), "expected an array"));
  oc_schema_destroy(s);
  oc_arena_reset(&arena);
}

static void test_required_nested_and_time(void) {
  oc_schema_t *s =
      S("version: 0\n"
        "schema: T.Nested\n"
        "definitions:\n"
        "  Actor:\n"
        "    type: object\n"
        "    fields:\n"
        "      - {name: id, type: string, required: true}\n"
        "      - {name: email, type: string, indicators: [email, username]}\n"
        "fields:\n"
        "  - name: when\n"
        "    type: timestamp\n"
        "    timeFormats: ['%d/%b/%Y:%H:%M:%S %z', unix_ms, rfc3339]\n"
        "    isEventTime: true\n"
        "    required: true\n"
        "  - {name: actor, type: ref, target: Actor, required: true}\n"
        "  - name: action\n"
        "    type: string\n"
        "    validate: {allow: [login, logout]}\n"
        "  - name: ip\n"
        "    type: string\n"
        "    indicators: [ip]\n"
        "  - {name: seen, type: array, element: {type: timestamp, timeFormat: unix}}\n");
  OC_CHECK(s != NULL);
  if (!s) return;
  int64_t et = 0;
  oc_indset_t ind;
  oc_indset_init(&ind);
  OC_CHECK_STR(apply(s,
                     "{\"when\":\"10/Oct/2026:13:55:36 -0700\",\"actor\":{\"id\":\"u1\",\"email\":"
                     "\"a@example.com\"},\"action\":\"login\",\"ip\":\"192.0.2.1\",\"seen\":[0,"
                     "\"1.5\"]}",
                     &et, &ind),
               "{\"when\":\"2026-10-10 20:55:36.000000000\",\"actor\":{\"id\":\"u1\",\"email\":"
               "\"a@example.com\"},\"action\":\"login\",\"ip\":\"192.0.2.1\",\"seen\":["
               "\"1970-01-01 00:00:00.000000000\",\"1970-01-01 00:00:01.500000000\"]}");
  OC_CHECK_INT(et, INT64_C(1791665736000000));
  oc_buf_t b;
  oc_buf_init(&b);
  oc_indset_write(&ind, &b);
  OC_CHECK_STR(b.data,
               ",\"p_any_ip_addresses\":[\"192.0.2.1\"],\"p_any_emails\":[\"a@example.com\"],"
               "\"p_any_usernames\":[\"a@example.com\"]");
  oc_buf_deinit(&b);
  oc_indset_reset(&ind);
  /* the other formats */
  apply(s, "{\"when\":1793527200250,\"actor\":{\"id\":\"u\"}}", &et, NULL);
  OC_CHECK_INT(et, INT64_C(1793527200250000));
  apply(s, "{\"when\":\"2026-11-01T10:00:00Z\",\"actor\":{\"id\":\"u\"}}", &et, NULL);
  OC_CHECK_INT(et, INT64_C(1793527200000000));
  /* rejections name the field */
  OC_CHECK(strstr(apply(s, "{\"actor\":{\"id\":\"u\"}}", NULL, NULL),
                  "field \"when\": required but missing"));
  OC_CHECK(strstr(apply(s, "{\"when\":null,\"actor\":{\"id\":\"u\"}}", NULL, NULL),
                  "required but null"));
  OC_CHECK(strstr(apply(s, "{\"when\":\"2026-11-01T10:00:00Z\",\"actor\":{}}", NULL, NULL),
                  "field \"actor.id\": required but missing"));
  OC_CHECK(strstr(apply(s, "{\"when\":\"yesterday\",\"actor\":{\"id\":\"u\"}}", NULL, NULL),
                  "matches none of its time formats"));
  OC_CHECK(strstr(apply(s,
                        "{\"when\":\"2026-11-01T10:00:00Z\",\"actor\":{\"id\":\"u\"},"
                        "\"action\":\"sudo\"}",
                        NULL, NULL),
                  "\"sudo\" is not allowed"));
  /* duplicate keys do not count a required field twice */
  OC_CHECK(strstr(apply(s, "{\"actor\":{\"id\":\"u\"},\"actor\":{\"id\":\"v\"}}", NULL, NULL),
                  "required but missing"));
  oc_indset_deinit(&ind);
  oc_schema_destroy(s);
  oc_arena_reset(&arena);
}

static void test_check_only_leaves_the_event(void) {
  oc_schema_t *s =
      S("schema: T.C\nfields:\n  - {name: t, type: timestamp, timeFormat: rfc3339, isEventTime: "
        "true}\n  - {name: n, type: bigint}\n");
  char err[256];
  int64_t et = 0;
  const char *text = "{\"t\":\"2026-11-01T10:00:00Z\",\"n\":\"5\"}";
  oc_json_t *ev = oc_json_parse(&arena, text, strlen(text), 8, err, sizeof(err));
  OC_CHECK(ev != NULL);
  OC_CHECK_INT(oc_schema_apply(s, &arena, ev, true, NULL, 0, &et, err, sizeof(err)), OC_SA_OK);
  OC_CHECK_INT(et, INT64_C(1793527200000000));
  oc_buf_t b;
  oc_buf_init(&b);
  oc_json_serialize(&b, ev);
  OC_CHECK_STR(b.data, "{\"t\":\"2026-11-01T10:00:00Z\",\"n\":\"5\"}");
  oc_buf_deinit(&b);
  oc_schema_destroy(s);
  oc_arena_reset(&arena);
}

static void test_legacy_fields(void) {
  char err[256];
  const char *req[] = {"a.b", "c"};
  oc_schema_t *s = oc_schema_from_fields("Custom.L", "ts.at", req, 2, err, sizeof(err));
  OC_CHECK(s != NULL);
  int64_t et;
  OC_CHECK_STR(apply(s, "{\"a\":{\"b\":[1]},\"c\":0}", &et, NULL), "{\"a\":{\"b\":[1]},\"c\":0}");
  OC_CHECK_INT(et, 1000); /* an absent event time: the parse time */
  OC_CHECK(strstr(apply(s, "{\"a\":{},\"c\":0}", NULL, NULL), "a.b"));
  apply(s, "{\"a\":{\"b\":1},\"c\":0,\"ts\":{\"at\":\"2026-11-01T10:00:00Z\"}}", &et, NULL);
  OC_CHECK_INT(et, INT64_C(1793527200000000));
  oc_schema_destroy(s);
  oc_arena_reset(&arena);
}

static void setup(void) {
  oc_arena_init(&arena, 16384);
}
static void teardown(void) {
  oc_arena_deinit(&arena);
}

OC_TEST_MAIN(OC_TEST(setup), OC_TEST(test_load_errors), OC_TEST(test_types_and_conversions),
             OC_TEST(test_required_nested_and_time), OC_TEST(test_check_only_leaves_the_event),
             OC_TEST(test_legacy_fields), OC_TEST(teardown))
