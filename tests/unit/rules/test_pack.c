/* Unit tests of the Panther pack loader (pack.h): YAML 1.2 scalars as JSON, metadata
 * defaults and validation with file and line. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/buf.h"
#include "oc_test.h"
#include "services/rules-engine/pack.h"

static char out[4096];

/* The JSON of a YAML text's root node, or "ERR:<reason>". */
static const char *to_json(const char *yaml) {
  yaml_parser_t parser;
  yaml_document_t doc;
  oc_buf_t b;
  char err[256];
  oc_buf_init(&b);
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
  if (!yaml_parser_load(&parser, &doc)) {
    snprintf(out, sizeof(out), "ERR:syntax");
  } else {
    if (oc_pack_yaml_to_json(&doc, yaml_document_get_root_node(&doc), &b, 8, 1000, err,
                             sizeof(err)))
      snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
    else
      snprintf(out, sizeof(out), "ERR:%s", err);
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  oc_buf_deinit(&b);
  return out;
}

static void test_scalars(void) {
  OC_CHECK_STR(to_json("[yes, no, on, off, Yes, y, n]"),
               "[\"yes\",\"no\",\"on\",\"off\",\"Yes\",\"y\",\"n\"]");
  OC_CHECK_STR(to_json("[true, True, TRUE, false, False, FALSE, tRUE]"),
               "[true,true,true,false,false,false,\"tRUE\"]");
  OC_CHECK_STR(to_json("[~, null, Null, NULL, nULL]"), "[null,null,null,null,\"nULL\"]");
  OC_CHECK_STR(to_json("a:\nb: ''\n"), "{\"a\":null,\"b\":\"\"}");
  OC_CHECK_STR(to_json("[1, -2, +3, 012, 0o17, 0x1f, 0b11, 1_000]"),
               "[1,-2,3,12,15,31,\"0b11\",\"1_000\"]");
  OC_CHECK_STR(to_json("[1.5, .5, 1., -1.5e3, 1e+2, .inf, .nan, 1.2.3]"),
               "[1.5,0.5,1.0,-1.5e3,1e2,\".inf\",\".nan\",\"1.2.3\"]");
  OC_CHECK_STR(to_json("[2024-01-01, '2024-01-01 10:00:00', \"true\", '5', 12:30]"),
               "[\"2024-01-01\",\"2024-01-01 10:00:00\",\"true\",\"5\",\"12:30\"]");
  OC_CHECK_STR(to_json("a: {b: [1, {c: x}]}\nd: |\n  line\n"),
               "{\"a\":{\"b\":[1,{\"c\":\"x\"}]},\"d\":\"line\\n\"}");
}

static void test_json_limits(void) {
  OC_CHECK(strncmp(to_json("[[[[[[[[[[1]]]]]]]]]]"), "ERR:nested too deeply", 21) == 0);
  char big[3000];
  size_t n = (size_t)snprintf(big, sizeof(big), "[");
  for (int i = 0; i < 300; i++)
    n += (size_t)snprintf(big + n, sizeof(big) - n, "%sabcdef", i ? "," : "");
  snprintf(big + n, sizeof(big) - n, "]");
  OC_CHECK(strncmp(to_json(big), "ERR:larger than", 15) == 0);
  OC_CHECK(strncmp(to_json("? [a]\n: 1\n"), "ERR:a mapping key is not a scalar", 33) == 0);
  /* an alias that contains itself ends at the depth limit */
  OC_CHECK(strncmp(to_json("&a [*a]"), "ERR:", 4) == 0);
}

static const char *add(oc_pack_t *pack, const char *text) {
  size_t before = pack->nmsgs;
  bool ok = oc_pack_add(pack, text, strlen(text), "/nonexistent/dir/x.yml");
  if (ok) return "OK";
  if (pack->nmsgs == before) return "SKIPPED";
  snprintf(out, sizeof(out), "%d:%s", pack->msgs[pack->nmsgs - 1].line,
           pack->msgs[pack->nmsgs - 1].text);
  return out;
}

static void test_metadata(void) {
  oc_pack_t *pack = oc_pack_new();
  /* data models need no Filename; defaults */
  OC_CHECK_STR(add(pack,
                   "AnalysisType: datamodel\nDataModelID: dm\nLogTypes: [A.B]\nMappings:\n"
                   "  - Name: user\n    Path: $.a.b\n"),
               "OK");
  const oc_pack_item_t *dm = oc_pack_find(pack, OC_PACK_DATAMODEL, "dm");
  OC_CHECK(dm && dm->enabled && dm->nmappings == 1 && strcmp(dm->mappings[0].path, "$.a.b") == 0);
  OC_CHECK_STR(add(pack, "AnalysisType: policy\nPolicyID: p\n"), "SKIPPED");
  OC_CHECK_INT(pack->skipped, 1);
  OC_CHECK_STR(add(pack, "RuleID: x\n"), "1:AnalysisType is required");
  OC_CHECK_STR(add(pack,
                   "AnalysisType: rule\nRuleID: r\nFilename: r.py\nLogTypes: [A]\n"
                   "Severity: Low\n"),
               "3:Filename \"r.py\": could not open \"/nonexistent/dir/r.py\": No such file or "
               "directory");
  OC_CHECK_STR(add(pack, "AnalysisType: rule\nRuleID: r\nFilename: ../r.py\n"),
               "3:Filename \"../r.py\" must name a file next to the metadata");
  OC_CHECK_STR(add(pack,
                   "AnalysisType: datamodel\nDataModelID: dm2\nLogTypes: [A]\nMappings:\n"
                   "  - Name: u\n    Method: m\n"),
               "5:mapping \"u\" has a Method but the data model has no Filename");
  OC_CHECK_STR(add(pack,
                   "AnalysisType: datamodel\nDataModelID: dm3\nLogTypes: [A]\nMappings:\n"
                   "  - Name: u\n"),
               "5:mapping \"u\" needs exactly one of Path and Method");
  OC_CHECK_STR(add(pack, "AnalysisType: datamodel\nDataModelID: dm\nLogTypes: [A]\n"),
               "2:DataModelID \"dm\" is already defined");
  OC_CHECK_STR(add(pack,
                   "AnalysisType: datamodel\nDataModelID: dm4\nEnabled: no\n"
                   "LogTypes: [A]\n"),
               "3:Enabled must be true or false");
  OC_CHECK_STR(add(pack, "AnalysisType: rule\nRuleID: [1\n"),
               "3:YAML syntax error: did not find "
               "expected ',' or ']' while parsing a flow sequence");
  oc_pack_destroy(pack);
}

/* A rule with every key, from a real directory (the test pack). */
static void test_load_dir(void) {
  const char *src = getenv("OCELOT_SOURCE_DIR");
  char dir[4096], err[512];
  snprintf(dir, sizeof(dir), "%s/tests/packs/basic", src ? src : ".");
  oc_pack_t *pack = oc_pack_new();
  OC_CHECK(oc_pack_load_dir(pack, dir, err, sizeof(err)));
  OC_CHECK_INT(pack->nmsgs, 0);
  for (size_t i = 0; i < pack->nmsgs; i++)
    fprintf(stderr, "%s:%d: %s\n", pack->msgs[i].origin, pack->msgs[i].line, pack->msgs[i].text);
  OC_CHECK_INT(pack->skipped, 1); /* the policy */
  const oc_pack_item_t *r = oc_pack_find(pack, OC_PACK_RULE, "Test.Outputs");
  OC_CHECK(r != NULL);
  if (r) {
    OC_CHECK_STR(r->severity, "HIGH");
    OC_CHECK_INT(r->dedup_period_minutes, 30);
    OC_CHECK_INT(r->threshold, 2);
    OC_CHECK_INT(r->output_ids.n, 1);
    OC_CHECK_STR(r->module_name, "outputs");
    OC_CHECK_INT(r->ntests, 3);
    OC_CHECK(r->create_alert && r->enabled);
  }
  r = oc_pack_find(pack, OC_PACK_RULE, "Test.CaseInsensitive");
  OC_CHECK(r && r->dedup_period_minutes == 60 && r->threshold == 1 && r->tags.n == 1);
  r = oc_pack_find(pack, OC_PACK_RULE, "Test.Scheduled"); /* shares the id space */
  OC_CHECK(r && r->kind == OC_PACK_SCHEDULED_RULE && !r->enabled);
  r = oc_pack_find(pack, OC_PACK_RULE, "Test.Mocks");
  OC_CHECK(r && r->ntests == 2 && r->tests[0].nmocks == 2);
  if (r && r->ntests == 2 && r->tests[0].nmocks == 2) {
    OC_CHECK_STR(r->tests[0].mocks[0].name, "owner_of");
    OC_CHECK_STR(r->tests[0].mocks[0].value_json, "\"alice\"");
    OC_CHECK_STR(r->tests[0].mocks[1].value_json, "3");
    OC_CHECK_STR(r->tests[0].log_json, "{\"resource\":\"bucket-1\",\"count\":5}");
  }
  OC_CHECK(oc_pack_find(pack, OC_PACK_RULE, "Test.InlineFilters")->inline_filters != NULL);
  OC_CHECK(!oc_pack_load_dir(pack, "/nonexistent/pack", err, sizeof(err)));
  oc_pack_destroy(pack);
}

int main(void) {
  static const oc_test_case_t cases[] = {OC_TEST(test_scalars), OC_TEST(test_json_limits),
                                         OC_TEST(test_metadata), OC_TEST(test_load_dir)};
  return oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
}
