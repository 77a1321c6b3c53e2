/* test_pyisolate.c: the Python host's memory cap and crash isolation (pyhost.h,
 * pyworker.h, pyscan.h): a rule that eats memory becomes a MemoryError rule error and the
 * others go on; a rule that aborts or segfaults on one event kills only the worker, the
 * event is reported as poison and every other event is evaluated. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oc_test.h"
#include "services/rules-engine/pyhost.h"
#include "services/rules-engine/pyscan.h"

static char oc_tmp[256];

static void put_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  OC_CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* A rule file pair in dir: RuleID id, module name mod, body the Python source. */
static void put_rule(const char *dir, const char *id, const char *mod, const char *body) {
  char yml[1024], name[256];
  snprintf(yml, sizeof(yml),
           "AnalysisType: rule\nRuleID: %s\nFilename: %s.py\nLogTypes: [Test.Log]\n"
           "Severity: Medium\nEnabled: true\n",
           id, mod);
  snprintf(name, sizeof(name), "%s.yml", mod);
  put_file(dir, name, yml);
  snprintf(name, sizeof(name), "%s.py", mod);
  put_file(dir, name, body);
}

static const char *mkpack(const char *name) {
  static char dir[512];
  snprintf(dir, sizeof(dir), "%s/%s", oc_tmp, name);
  OC_CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
  return dir;
}

static const oc_pymatch_group_t *find_group(const oc_pyscan_t *ps, const char *id, bool error) {
  for (size_t i = 0; i < ps->ngroups; i++)
    if (strcmp(ps->groups[i]->rule->item->id, id) == 0 && ps->groups[i]->is_error == error)
      return ps->groups[i];
  return NULL;
}

static uint64_t group_count(const oc_pyscan_t *ps, const char *id, bool error) {
  uint64_t n = 0;
  for (size_t i = 0; i < ps->ngroups; i++)
    if (strcmp(ps->groups[i]->rule->item->id, id) == 0 && ps->groups[i]->is_error == error)
      n += ps->groups[i]->count;
  return n;
}

/* n events {"id": i, ...}; extra(i) gives extra members or "" */
static void put_events(const char *path, int n, const char *(*extra)(int)) {
  FILE *f = fopen(path, "w");
  OC_CHECK(f != NULL);
  if (!f) return;
  for (int i = 0; i < n; i++)
    fprintf(f,
            "{\"p_log_type\":\"Test.Log\",\"p_event_time\":\"2024-05-01T10:00:00Z\","
            "\"id\":%d,\"user\":\"u%d\"%s}\n",
            i, i % 7, extra ? extra(i) : "");
  fclose(f);
}

/* ---- many groups ------------------------------------------------------------------ */

/* Groups are found by hash: 6,000 events with 3,000 distinct dedup strings (each twice)
 * and one shared one give exactly those groups with the right counts, file after file. */
static void test_many_groups(void) {
  char err[512], path[512];
  const char *dir = mkpack("manygroups");
  put_rule(dir, "Many.PerId", "many_per_id",
           "def rule(event):\n"
           "    return True\n"
           "def dedup(event):\n"
           "    return 'k' + str(event.get('id') % 3000)\n");
  put_rule(dir, "Many.One", "many_one",
           "def rule(event):\n"
           "    return event.get('id') % 2 == 0\n"
           "def dedup(event):\n"
           "    return 'same'\n");
  oc_pyscan_opts_t opts = {2000, 64, false, 0};
  oc_pyscan_rules_t *psr = oc_pyscan_rules_load_opts(dir, &opts, err, sizeof(err));
  OC_CHECK(psr != NULL);
  if (!psr) return;
  snprintf(path, sizeof(path), "%s/many_events.json", oc_tmp);
  put_events(path, 6000, NULL);
  oc_pyscan_t ps;
  oc_pyscan_init(&ps);
  for (int round = 0; round < 2; round++) {
    OC_CHECK_INT(oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err)), OC_OK);
    OC_CHECK_INT(ps.ngroups, 3001);
    size_t per_id = 0, bad = 0;
    for (size_t i = 0; i < ps.ngroups; i++) {
      const oc_pymatch_group_t *g = ps.groups[i];
      if (strcmp(g->rule->item->id, "Many.PerId") == 0) {
        per_id++;
        if (g->count != 2) bad++;
      } else {
        OC_CHECK_INT(g->count, 3000);
        OC_CHECK(g->dedup_len == 4 && memcmp(g->dedup, "same", 4) == 0);
      }
    }
    OC_CHECK_INT(per_id, 3000);
    OC_CHECK_INT(bad, 0);
  }
  oc_pyscan_deinit(&ps);
  oc_pyscan_rules_destroy(psr);
}

/* ---- memory cap -------------------------------------------------------------------- */

static const char *mem_extra(int i) {
  static const char *v[] = {"", ",\"hog\":1", ",\"hog\":2", ",\"hog\":3", ",\"hog\":4", ""};
  return i < 6 ? v[i] : "";
}

static void check_memory(bool isolate) {
  char err[1024], path[512];
  const char *dir = mkpack(isolate ? "mem_iso" : "mem");
  put_rule(dir, "Mem.Bytes", "mem_bytes",
           "def rule(event):\n"
           "    if event.get('hog') == 1:\n"
           "        b = bytearray(300 * 1024 * 1024)\n"
           "        return len(b) > 0\n"
           "    return False\n");
  put_rule(dir, "Mem.Objects", "mem_objects",
           "def rule(event):\n"
           "    if event.get('hog') == 2:\n"
           "        keep = []\n"
           "        while True:\n"
           "            keep.append({'n': len(keep), 's': str(len(keep))})\n"
           "    return False\n");
  put_rule(dir, "Mem.Swallow", "mem_swallow",
           "def rule(event):\n"
           "    if event.get('hog') == 3:\n"
           "        try:\n"
           "            x = 'x' * (400 * 1024 * 1024)\n"
           "        except MemoryError:\n"
           "            return True\n"
           "    return False\n");
  put_rule(dir, "Mem.Under", "mem_under",
           "def rule(event):\n"
           "    if event.get('hog') == 4:\n"
           "        b = bytearray(20 * 1024 * 1024)\n"
           "        return len(b) == 20 * 1024 * 1024\n"
           "    return False\n");
  put_rule(dir, "Ok.Every", "ok_every",
           "def rule(event):\n"
           "    return event.get('id') is not None\n"
           "def title(event):\n"
           "    return 'seen ' + str(len([1] * 1000))\n");
  oc_pyscan_opts_t opts = {2000, 64, isolate, 0};
  oc_pyscan_rules_t *psr = oc_pyscan_rules_load_opts(dir, &opts, err, sizeof(err));
  OC_CHECK(psr != NULL);
  if (!psr) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  OC_CHECK_INT(oc_pyscan_rules_pack(psr)->nmsgs, 0);
  OC_CHECK_INT(oc_pyscan_rules_count(psr), 5);
  snprintf(path, sizeof(path), "%s/mem_events.json", oc_tmp);
  put_events(path, 8, mem_extra);
  oc_pyscan_t ps;
  oc_pyscan_init(&ps);
  size_t before = oc_pyhost_memory_used();
  oc_err_t e = oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err));
  OC_CHECK_INT(e, OC_OK);
  OC_CHECK_INT(ps.events, 8);
  OC_CHECK_INT(ps.memory_errors, 3);
  OC_CHECK_INT(ps.errors, 3);
  OC_CHECK_INT(ps.poison, 0);
  OC_CHECK_INT(group_count(&ps, "Ok.Every", false), 8); /* every event, hogs included */
  OC_CHECK_INT(group_count(&ps, "Mem.Under", false), 1);
  const char *hogs[] = {"Mem.Bytes", "Mem.Objects", "Mem.Swallow"};
  for (int i = 0; i < 3; i++) {
    const oc_pymatch_group_t *g = find_group(&ps, hogs[i], true);
    OC_CHECK(g != NULL);
    if (!g) continue;
    OC_CHECK_INT(g->count, 1);
    OC_CHECK_STR(g->dedup, "MemoryError");
    OC_CHECK(strstr(g->title, "memory cap of 64 MB") != NULL);
    OC_CHECK(strstr(g->description, "memory cap of 64 MB") != NULL);
    OC_CHECK(find_group(&ps, hogs[i], false) == NULL);
  }
  if (!isolate) {
    /* the hogs' memory went back */
    OC_CHECK(oc_pyhost_memory_used() < before + 32 * 1024 * 1024);
    OC_CHECK(oc_pyhost_memory_errors() >= 3);
  }
  /* the same file again: same verdicts (nothing stuck armed) */
  e = oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err));
  OC_CHECK_INT(e, OC_OK);
  OC_CHECK_INT(ps.memory_errors, 3);
  OC_CHECK_INT(group_count(&ps, "Ok.Every", false), 8);
  oc_pyscan_deinit(&ps);
  oc_pyscan_rules_destroy(psr);
}

static void test_memory_cap_in_process(void) {
  check_memory(false);
}

static void test_memory_cap_isolated(void) {
  check_memory(true);
}

/* ---- crash isolation --------------------------------------------------------------- */

static const char *crash_extra(int i) {
  if (i == 10) return ",\"boom\":\"abort\"";
  if (i == 300) return ",\"boom\":\"segv\"";
  if (i == 301) return ",\"boom\":\"no\"";
  return "";
}

static void test_crash_isolation(void) {
  char err[1024], path[512];
  const char *dir = mkpack("crash");
  put_rule(dir, "Crash.Abort", "crash_abort",
           "import os\n"
           "def rule(event):\n"
           "    if event.get('boom') == 'abort':\n"
           "        os.abort()\n"
           "    return False\n");
  put_rule(dir, "Crash.Segv", "crash_segv",
           "import ctypes\n"
           "def rule(event):\n"
           "    if event.get('boom') == 'segv':\n"
           "        ctypes.string_at(0)\n"
           "    return event.get('boom') == 'no'\n"
           "def title(event):\n"
           "    return 'not a crash'\n");
  put_rule(dir, "Ok.Users", "ok_users",
           "def rule(event):\n"
           "    return event.get('id') % 2 == 0\n"
           "def title(event):\n"
           "    return 'user ' + event['user']\n"
           "def alert_context(event):\n"
           "    return {'id': event['id'], 'u': event.deep_get('user')}\n"
           "def severity(event):\n"
           "    return 'high'\n"
           "def destinations(event):\n"
           "    return ['a', 'b'] if event['user'] == 'u1' else []\n");
  oc_pyscan_opts_t opts = {1000, 64, true, 0};
  oc_pyscan_rules_t *psr = oc_pyscan_rules_load_opts(dir, &opts, err, sizeof(err));
  OC_CHECK(psr != NULL);
  if (!psr) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  int pid0 = oc_pyscan_rules_worker_pid(psr);
  OC_CHECK(pid0 > 0 && pid0 != getpid());
  snprintf(path, sizeof(path), "%s/crash_events.json", oc_tmp);
  put_events(path, 600, crash_extra);
  oc_pyscan_t ps;
  oc_pyscan_init(&ps);
  oc_err_t e = oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err));
  OC_CHECK_INT(e, OC_OK);
  if (e != OC_OK) fprintf(stderr, "%s\n", err);
  OC_CHECK_INT(ps.events, 600);
  OC_CHECK_INT(ps.poison, 2);
  OC_CHECK_INT(ps.npoisons, 2);
  OC_CHECK(ps.host_deaths >= 4); /* each poison: a try, a retry, the splits, its retry */
  OC_CHECK(oc_pyscan_rules_worker_restarts(psr) >= 4);
  if (ps.npoisons == 2) {
    OC_CHECK(strstr(ps.poisons[0].line, "\"id\":10,") != NULL);
    OC_CHECK(strstr(ps.poisons[0].reason, "signal 6") != NULL);
    OC_CHECK_INT(ps.poisons[0].line_no, 11);
    OC_CHECK(strstr(ps.poisons[1].line, "\"id\":300,") != NULL);
#if defined(__SANITIZE_ADDRESS__)
    /* under ASan the segfault is caught by the sanitizer, which reports it and exits */
    OC_CHECK(strstr(ps.poisons[1].reason, "signal 11") != NULL ||
             strstr(ps.poisons[1].reason, "exited with status") != NULL);
#else
    OC_CHECK(strstr(ps.poisons[1].reason, "signal 11") != NULL);
#endif
    OC_CHECK_STR(ps.poisons[1].log_type, "Test.Log");
    OC_CHECK_INT(ps.poisons[1].line_no, 301);
  }
  /* every other event evaluated once: 300 even ids, minus 10 and 300 */
  OC_CHECK_INT(group_count(&ps, "Ok.Users", false), 298);
  OC_CHECK_INT(group_count(&ps, "Crash.Segv", false), 1); /* event 301, right after a crash */
  OC_CHECK_INT(ps.errors, 0);
  const oc_pymatch_group_t *g = NULL;
  for (size_t i = 0; i < ps.ngroups; i++)
    if (strcmp(ps.groups[i]->title, "user u1") == 0) g = ps.groups[i];
  OC_CHECK(g != NULL);
  if (g) {
    OC_CHECK_STR(g->severity, "HIGH");
    OC_CHECK_INT(g->ndestinations, 2);
    OC_CHECK(g->ndestinations == 2 && strcmp(g->destinations[1], "b") == 0);
    OC_CHECK(strstr(g->alert_context, "\"u\": \"u1\"") != NULL);
    OC_CHECK(!g->skip_delivery);
  }
  for (size_t i = 0; i < ps.ngroups; i++)
    if (strcmp(ps.groups[i]->title, "user u2") == 0) OC_CHECK(ps.groups[i]->skip_delivery);

  /* the service survived and a clean file runs on the current worker */
  int pid1 = oc_pyscan_rules_worker_pid(psr);
  put_events(path, 50, NULL);
  e = oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err));
  OC_CHECK_INT(e, OC_OK);
  OC_CHECK_INT(ps.poison, 0);
  OC_CHECK_INT(ps.host_deaths, 0);
  OC_CHECK_INT(group_count(&ps, "Ok.Users", false), 25);
  OC_CHECK_INT(oc_pyscan_rules_worker_pid(psr), pid1);

  /* a worker killed from outside between files is replaced */
  OC_CHECK(pid1 > 0);
  if (pid1 > 0) kill(pid1, SIGKILL); /* never kill(0): that is our process group */
  e = oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err));
  OC_CHECK_INT(e, OC_OK);
  OC_CHECK_INT(ps.poison, 0);
  OC_CHECK_INT(ps.host_deaths, 1); /* the first try found it dead, the retry worked */
  OC_CHECK_INT(group_count(&ps, "Ok.Users", false), 25);
  oc_pyscan_deinit(&ps);
  oc_pyscan_rules_destroy(psr);
}

/* The same results in and out of process, field by field. */
static void test_isolated_matches_in_process(void) {
  char err[1024], path[512];
  const char *dir = mkpack("same");
  put_rule(dir, "Same.A", "same_a",
           "def rule(event):\n"
           "    return event.get('id') % 3 == 0\n"
           "def title(event):\n"
           "    return 'x' * 2000 if event['id'] == 0 else 'user ' + event['user']\n"
           "def dedup(event):\n"
           "    return event['user'][:2]\n"
           "def alert_context(event):\n"
           "    return {'ids': [event['id']], 'nested': {'u': event['user']}}\n"
           "def description(event):\n"
           "    return 'desc'\n");
  put_rule(dir, "Same.Raises", "same_raises",
           "def rule(event):\n"
           "    return event['missing'] == 1\n");
  snprintf(path, sizeof(path), "%s/same_events.json", oc_tmp);
  put_events(path, 40, NULL);
  oc_pyscan_opts_t o1 = {1000, 64, false, 0}, o2 = {1000, 64, true, 0};
  oc_pyscan_rules_t *a = oc_pyscan_rules_load_opts(dir, &o1, err, sizeof(err));
  oc_pyscan_rules_t *b = oc_pyscan_rules_load_opts(dir, &o2, err, sizeof(err));
  OC_CHECK(a && b);
  if (!a || !b) goto out;
  oc_pyscan_t pa, pb;
  oc_pyscan_init(&pa);
  oc_pyscan_init(&pb);
  OC_CHECK_INT(oc_pyscan_file(&pa, a, path, NULL, 0, 0, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(oc_pyscan_file(&pb, b, path, NULL, 0, 0, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(pa.ngroups, pb.ngroups);
  OC_CHECK(pa.ngroups >= 3);
  OC_CHECK_INT(pa.errors, 40);
  OC_CHECK_INT(pb.errors, 40);
  OC_CHECK_INT(pa.matches, pb.matches);
  for (size_t i = 0; i < pa.ngroups && i < pb.ngroups; i++) {
    const oc_pymatch_group_t *x = pa.groups[i], *y = pb.groups[i];
    OC_CHECK_STR(x->rule->item->id, y->rule->item->id);
    OC_CHECK_INT(x->is_error, y->is_error);
    OC_CHECK_INT(x->count, y->count);
    OC_CHECK_STR(x->dedup, y->dedup);
    OC_CHECK_STR(x->title, y->title);
    OC_CHECK_STR(x->severity, y->severity);
    OC_CHECK_STR(x->alert_context, y->alert_context);
    OC_CHECK_STR(x->description, y->description);
    OC_CHECK_INT(x->nsamples, y->nsamples);
    OC_CHECK_INT(x->first_us, y->first_us);
    if (x->nsamples && y->nsamples) OC_CHECK_STR(x->samples[0], y->samples[0]);
  }
  const oc_pymatch_group_t *g = find_group(&pb, "Same.Raises", true);
  OC_CHECK(g && strcmp(g->dedup, "KeyError") == 0 && g->count == 40);
  oc_pyscan_deinit(&pa);
  oc_pyscan_deinit(&pb);
out:
  oc_pyscan_rules_destroy(a);
  oc_pyscan_rules_destroy(b);
}

/* A rule stuck in one C call (no bytecode to interrupt) kills the worker by the hang
 * timer; the event is poison, the others are evaluated. */
static void test_hang(void) {
  char err[1024], path[512];
  const char *dir = mkpack("hang");
  put_rule(dir, "Hang.Sleep", "hang_sleep",
           "import time\n"
           "def rule(event):\n"
           "    if event.get('id') == 2:\n"
           "        time.sleep(3600)\n"
           "    return True\n");
  oc_pyscan_opts_t opts = {100, 64, true, 400};
  oc_pyscan_rules_t *psr = oc_pyscan_rules_load_opts(dir, &opts, err, sizeof(err));
  OC_CHECK(psr != NULL);
  if (!psr) return;
  snprintf(path, sizeof(path), "%s/hang_events.json", oc_tmp);
  put_events(path, 4, NULL);
  oc_pyscan_t ps;
  oc_pyscan_init(&ps);
  OC_CHECK_INT(oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(ps.poison, 1);
  OC_CHECK(ps.npoisons == 1 && strstr(ps.poisons[0].reason, "no progress") != NULL);
  OC_CHECK_INT(group_count(&ps, "Hang.Sleep", false), 3);
  oc_pyscan_deinit(&ps);
  oc_pyscan_rules_destroy(psr);
}

/* The time budget works in the worker too (its own watchdog thread, started after the
 * fork): a Python loop is a timeout rule error, not a dead worker. */
static void test_timeout_in_worker(void) {
  char err[1024], path[512];
  const char *dir = mkpack("loop");
  put_rule(dir, "Loop.Forever", "loop_forever",
           "def rule(event):\n"
           "    while event.get('id') == 1:\n"
           "        pass\n"
           "    return True\n");
  oc_pyscan_opts_t opts = {200, 64, true, 0};
  oc_pyscan_rules_t *psr = oc_pyscan_rules_load_opts(dir, &opts, err, sizeof(err));
  OC_CHECK(psr != NULL);
  if (!psr) return;
  snprintf(path, sizeof(path), "%s/loop_events.json", oc_tmp);
  put_events(path, 3, NULL);
  oc_pyscan_t ps;
  oc_pyscan_init(&ps);
  OC_CHECK_INT(oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err)), OC_OK);
  OC_CHECK_INT(ps.timeouts, 1);
  OC_CHECK_INT(ps.errors, 1);
  OC_CHECK_INT(ps.poison, 0);
  OC_CHECK_INT(ps.host_deaths, 0);
  OC_CHECK_INT(group_count(&ps, "Loop.Forever", false), 2);
  const oc_pymatch_group_t *g = find_group(&ps, "Loop.Forever", true);
  OC_CHECK(g && strcmp(g->dedup, "OcelotTimeoutError") == 0);
  oc_pyscan_deinit(&ps);
  oc_pyscan_rules_destroy(psr);
}

/* A host that crashes on every event is broken: the file fails as a whole. */
static void test_crash_everything(void) {
  char err[1024], path[512];
  const char *dir = mkpack("broken");
  put_rule(dir, "Crash.Always", "crash_always",
           "import os\n"
           "def rule(event):\n"
           "    os.abort()\n");
  oc_pyscan_opts_t opts = {1000, 64, true, 0};
  oc_pyscan_rules_t *psr = oc_pyscan_rules_load_opts(dir, &opts, err, sizeof(err));
  OC_CHECK(psr != NULL);
  if (!psr) return;
  snprintf(path, sizeof(path), "%s/broken_events.json", oc_tmp);
  put_events(path, OC_PYSCAN_MAX_POISON + 20, NULL);
  oc_pyscan_t ps;
  oc_pyscan_init(&ps);
  oc_err_t e = oc_pyscan_file(&ps, psr, path, NULL, 0, 0, err, sizeof(err));
  OC_CHECK_INT(e, OC_ERR_INTERNAL);
  OC_CHECK(strstr(err, "crashed on more than") != NULL);
  oc_pyscan_deinit(&ps);
  oc_pyscan_rules_destroy(psr);
}

int main(void) {
  snprintf(oc_tmp, sizeof(oc_tmp), "/tmp/oc_pyisolate_XXXXXX");
  if (!mkdtemp(oc_tmp)) return 2;
  static const oc_test_case_t cases[] = {OC_TEST(test_memory_cap_in_process),
                                         OC_TEST(test_memory_cap_isolated),
                                         OC_TEST(test_crash_isolation),
                                         OC_TEST(test_isolated_matches_in_process),
                                         OC_TEST(test_hang),
                                         OC_TEST(test_timeout_in_worker),
                                         OC_TEST(test_crash_everything),
                                         OC_TEST(test_many_groups)};
  int rc = oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", oc_tmp);
  if (system(cmd) != 0) rc = rc ? rc : 0;
  oc_pyhost_fini();
  return rc;
}
