/* upload.c (CLI): `ocelot rules upload` (upload.h). */
#include "tools/ocelot/upload.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/redis.h"
#include "services/rules-engine/pack.h"
#include "services/rules-engine/packstore.h"
#include "services/rules-engine/pycache.h"
#include "services/rules-engine/pyhost.h"
#include "services/rules-engine/pyrule.h"

static void oc_upload_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot rules upload <pack-dir> [--name ID] [--no-notify]\n\n"
          "Loads a Panther detection pack the way the rules-engine does (metadata, Python\n"
          "files, global helpers, data models) and refuses it when any file does not load,\n"
          "printing file, line and reason. Otherwise stores every rule, data model and\n"
          "global as a new version in Postgres (an unchanged item keeps its version; items\n"
          "gone from the pack are removed) and publishes a notice on the Redis channel\n"
          "ocelot:rules-changed so running engines reload at once (they also check every\n"
          "OCELOT_RULES_RELOAD_MS). YAML detections (Detection:) are not part of a pack\n"
          "upload: store them with `ocelot rules put`.\n\n"
          "  --name ID      the pack's id (default: the directory's name)\n"
          "  --no-notify    do not publish the notice (engines pick it up at their next check)\n");
}

/* The pack's Python side is loaded too, so a rule whose file raises at import (or has no
 * rule()) is refused here rather than in the engine. */
static bool oc_upload_validate(oc_pack_t *pack, const char *dir) {
  char errstr[1024];
  if (!oc_pack_load_dir(pack, dir, errstr, sizeof(errstr))) {
    oc_cli_errorf("%s", errstr);
    return false;
  }
  if (!oc_pyhost_init(errstr, sizeof(errstr))) {
    oc_cli_errorf("%s", errstr);
    return false;
  }
  oc_pycache_use_redis(NULL, NULL, 0);
  if (!oc_pycache_install(errstr, sizeof(errstr))) {
    oc_cli_errorf("%s", errstr);
    return false;
  }
  oc_pyrules_t *prs = oc_pyrules_load(pack, errstr, sizeof(errstr));
  if (!prs) {
    oc_cli_errorf("%s", errstr);
    return false;
  }
  oc_pyrules_destroy(prs);
  for (size_t i = 0; i < pack->nmsgs; i++) {
    const oc_pack_msg_t *m = &pack->msgs[i];
    if (m->line)
      fprintf(stderr, "%s:%d: %s\n", m->origin, m->line, m->text);
    else
      fprintf(stderr, "%s: %s\n", m->origin, m->text);
  }
  if (pack->nmsgs) {
    oc_cli_errorf("pack \"%s\" not uploaded: %zu file%s did not load", dir, pack->nmsgs,
                  pack->nmsgs == 1 ? "" : "s");
    return false;
  }
  if (pack->nitems == 0) {
    oc_cli_errorf("pack \"%s\" not uploaded: no rules, data models or globals in it", dir);
    return false;
  }
  return true;
}

int oc_cli_rules_upload(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"no-notify", no_argument, NULL, 'N'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *name = NULL, *dir;
  char base[OC_PACKSTORE_MAX_ID + 1], errstr[1024];
  bool notify = true;
  oc_pack_t *pack = NULL;
  oc_pg_t *pg = NULL;
  oc_redis_t *redis = NULL;
  oc_packstore_stats_t st;
  int c, rc = OC_CLI_EXIT_USAGE;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'n') {
      name = optarg;
    } else if (c == 'N') {
      notify = false;
    } else if (c == 'h') {
      oc_upload_usage(stdout);
      return OC_CLI_EXIT_OK;
    } else {
      return oc_cli_bad_option("rules upload", c, argv);
    }
  }
  if (argc - optind != 1) {
    oc_cli_errorf("rules upload needs exactly one pack directory");
    oc_upload_usage(stderr);
    return OC_CLI_EXIT_USAGE;
  }
  dir = argv[optind];
  if (!name) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
      n--;
    const char *s = dir + n;
    while (s > dir && s[-1] != '/')
      s--;
    snprintf(base, sizeof(base), "%.*s", (int)(dir + n - s), s);
    name = base;
  }
  if (!oc_packstore_id_ok(name)) {
    oc_cli_errorf(
        "invalid pack id \"%s\": 1 to %d letters, digits, '.', '_' or '-'; give one "
        "with --name",
        name, OC_PACKSTORE_MAX_ID);
    return OC_CLI_EXIT_USAGE;
  }
  rc = OC_CLI_EXIT_FAIL;
  pack = oc_pack_new();
  if (!pack) {
    oc_cli_errorf("out of memory");
    goto out;
  }
  if (!oc_upload_validate(pack, dir)) goto out;
  pg = oc_cli_pg_open(cli, true);
  if (!pg) goto out;
  if (oc_packstore_put(pg, pack, dir, name, &st, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("could not store pack \"%s\": %s", name, errstr);
    goto out;
  }
  printf("pack %s version %lld: %zu items, %zu new, %zu updated, %zu unchanged, %zu removed\n",
         name, st.pack_version, st.items, st.created, st.updated, st.unchanged, st.removed);
  rc = OC_CLI_EXIT_OK;
  if (notify && st.pack_changed) {
    long long receivers = 0;
    redis = oc_redis_new(oc_config_str(cli->cfg, "OCELOT_REDIS_URL"), errstr, sizeof(errstr));
    if (!redis || oc_packstore_notify(redis, name, &receivers, errstr, sizeof(errstr)) != OC_OK)
      /* stored: engines still see it at their next periodic check */
      oc_cli_errorf("warning: stored, but could not publish the rules-changed notice: %s", errstr);
    else
      printf("notified %lld engine%s\n", receivers, receivers == 1 ? "" : "s");
  }
out:
  oc_redis_destroy(redis);
  oc_pg_destroy(pg);
  oc_pack_destroy(pack);
  if (oc_pyhost_ready()) oc_pyhost_fini();
  return rc;
}
