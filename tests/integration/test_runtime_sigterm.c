/* test_runtime_sigterm: SIGTERM in the middle of a stream. The service runs as a child
 * process (this program re-executed with "child") through oc_runtime_main, with a slow
 * handler; SIGTERM arrives while a batch is being handled. The child must finish that
 * batch, commit it and exit 0: afterwards exactly the committed records have outputs.
 * A restarted instance then handles the rest, with no record lost or handled twice. */
#include "runtime_testlib.h"

#include <signal.h>
#include <sys/wait.h>

#define N 300

static char in_topic[128], out_topic[128], group_name[128];
static atomic_int handled;

static oc_err_t slow_batch(oc_svc_t *svc, oc_msg_t *msgs, size_t n, void *opaque) {
  usleep(300 * 1000); /* long enough that SIGTERM lands inside a batch */
  for (size_t i = 0; i < n; i++) {
    oc_err_t err = oc_svc_produce(svc, out_topic, msgs[i].key, msgs[i].key_len, msgs[i].value,
                                  msgs[i].len, NULL);
    if (err) return err;
    atomic_fetch_add(&handled, 1);
  }
  return OC_OK;
}

static const char *topics[1] = {in_topic};
static const oc_handler_t handler = {
    .name = "rt-sigterm", .topics = topics, .ntopics = 1, .handle_batch = slow_batch};

static int child_main(void) {
  char *argv[] = {"rt-sigterm", NULL};
  snprintf(in_topic, sizeof(in_topic), "%s", getenv("RT_IN"));
  snprintf(out_topic, sizeof(out_topic), "%s", getenv("RT_OUT"));
  return oc_runtime_main(&handler, 1, argv);
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t len = sizeof(sa);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  return ntohs(sa.sin_port);
}

/* Every committed input (offset < committed on its partition) has its output, and the
 * outputs are exactly the committed inputs. */
static void check_outputs_match_commits(int64_t expect_total) {
  tl_rec_t *in, *out;
  size_t nin = tl_read_all(in_topic, &in), nout = tl_read_all(out_topic, &out);
  int np = tl_partitions(in_topic);
  int64_t committed[64] = {0};
  int64_t total = 0;
  for (int p = 0; p < np && p < 64; p++) {
    int64_t c = tl_committed(group_name, in_topic, p);
    committed[p] = c < 0 ? 0 : c;
    total += committed[p];
  }
  if (expect_total >= 0) OC_CHECK_INT(total, expect_total);
  OC_CHECK_INT((int64_t)nout, total);
  size_t missing = 0;
  for (size_t i = 0; i < nin; i++) {
    if (in[i].offset >= committed[in[i].partition]) continue;
    bool found = false;
    for (size_t j = 0; j < nout && !found; j++)
      found = strcmp(out[j].value, in[i].value) == 0;
    if (!found) missing++;
  }
  OC_CHECK_INT(missing, 0);
  tl_recs_free(in, nin);
  tl_recs_free(out, nout);
}

static void test_sigterm_finishes_batch(void) {
  rd_kafka_t *p = tl_producer();
  char key[32], val[32], portstr[16], body[256], series[256];
  int port = free_port();

  tl_env_defaults();
  setenv("OCELOT_BATCH_MAX", "20", 1);
  tl_unique(in_topic, sizeof(in_topic), "rt-term-in");
  tl_unique(out_topic, sizeof(out_topic), "rt-term-out");
  tl_unique(group_name, sizeof(group_name), "rt-term-group");
  setenv("OCELOT_GROUP_ID", group_name, 1);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "k-%d", i);
    snprintf(val, sizeof(val), "v-%d", i);
    tl_produce(p, in_topic, -1, key, val, NULL);
  }
  tl_flush(p);
  rd_kafka_destroy(p);
  OC_CHECK(tl_partitions(out_topic) > 0);

  snprintf(portstr, sizeof(portstr), "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("OCELOT_HTTP_PORT", portstr, 1);
    setenv("RT_IN", in_topic, 1);
    setenv("RT_OUT", out_topic, 1);
    execl("/proc/self/exe", "test_runtime_sigterm", "child", (char *)NULL);
    _exit(127);
  }
  OC_CHECK(pid > 0);
  snprintf(series, sizeof(series), "ocelot_records_in_total{topic=\"%s\"}", in_topic);
  TL_WAIT(tl_svc_metric(port, "ocelot_commits_total") >= 2, 60, "the child committed batches");
  OC_CHECK_INT(tl_http_get(port, "/healthz", body, sizeof(body)), 200);
  usleep(100 * 1000); /* inside the next batch's handler */
  kill(pid, SIGTERM);

  int status = -1;
  double until = tl_now() + 30;
  pid_t w = 0;
  while ((w = waitpid(pid, &status, WNOHANG)) == 0 && tl_now() < until)
    tl_sleep_ms(50);
  if (w == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    OC_CHECK(!"child did not exit within 30 s of SIGTERM");
  }
  OC_CHECK(WIFEXITED(status));
  OC_CHECK_INT(WEXITSTATUS(status), 0);

  int64_t after_stop = tl_committed_total(group_name, in_topic);
  OC_CHECK(after_stop > 0);
  OC_CHECK(after_stop < N); /* it really stopped mid-stream */
  check_outputs_match_commits(-1);

  /* A new instance handles the rest: all N outputs, none twice. */
  tl_svc_t t;
  OC_CHECK_INT(tl_svc_start(&t, &handler), 0);
  TL_WAIT(tl_committed_total(group_name, in_topic) == N, 60, "the rest committed");
  OC_CHECK_INT(tl_svc_stop(&t), 0);
  OC_CHECK_INT(atomic_load(&handled), N - after_stop);
  check_outputs_match_commits(N);
}

int main(int argc, char **argv) {
  static const oc_test_case_t cases[] = {OC_TEST(test_sigterm_finishes_batch)};
  if (argc > 1 && strcmp(argv[1], "child") == 0) return child_main();
  return oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
}
