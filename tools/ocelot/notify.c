/* notify.c (CLI): getting objects into the pipeline. An object is announced with an
 * ObjectNotification on input-notifications, keyed "<bucket>/<key>", and the command
 * waits for the broker to confirm it, so a zero exit means the pipeline has it.
 * Files are placed in the object store through a temporary name and rename(2), so the
 * log-processor never reads half a file. */
#include "tools/ocelot/notify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "ocelot/v1/messages.pb-c.h"

#define OC_CLI_MAX_KEY 1024
#define OC_CLI_DELIVERY_TIMEOUT_MS 30000
#define OC_CLI_WATCH_MAX_FILES 100000
#define OC_CLI_WATCH_MAX_DEPTH 16

bool oc_cli_object_key_ok(const char *key) {
  size_t n = strlen(key);
  const char *seg = key;
  if (n == 0 || n > OC_CLI_MAX_KEY || key[0] == '/') return false;
  for (const char *p = key;; p++) {
    if (*p == '/' || *p == '\0') {
      size_t len = (size_t)(p - seg);
      if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return false;
      if (*p == '\0') break;
      seg = p + 1;
    } else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
      return false;
    }
  }
  return true;
}

static bool oc_cli_bucket_ok(const char *bucket) {
  size_t n = strlen(bucket);
  if (n == 0 || n > 255 || strchr(bucket, '/') || strcmp(bucket, ".") == 0 ||
      strcmp(bucket, "..") == 0)
    return false;
  for (const char *p = bucket; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) return false;
  return true;
}

static int64_t oc_cli_mtime_us(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000 + st->st_mtim.tv_nsec / 1000;
}

/* Queues the notification of bucket/key; *status (may be NULL) follows its delivery. */
static oc_err_t oc_cli_notify_queue(rd_kafka_t *rk, const char *bucket, const char *key,
                                    uint64_t size, int64_t mtime_us, const char *etag, int *status,
                                    char *errstr, size_t errstr_size) {
  Ocelot__V1__ObjectNotification on = OCELOT__V1__OBJECT_NOTIFICATION__INIT;
  char mkey[OC_CLI_MAX_KEY + 300];
  uint8_t *buf;
  size_t len;
  rd_kafka_resp_err_t kerr;
  on.bucket = (char *)bucket;
  on.key = (char *)key;
  on.size = size;
  on.etag = (char *)(etag ? etag : "");
  on.mtime_us = mtime_us;
  on.received_at_us = oc_now_us();
  snprintf(mkey, sizeof(mkey), "%s/%s", bucket, key);
  len = ocelot__v1__object_notification__get_packed_size(&on);
  buf = malloc(len ? len : 1);
  if (!buf) {
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  ocelot__v1__object_notification__pack(&on, buf);
  if (status) *status = 0;
  for (;;) {
    kerr =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(OC_TOPIC_INPUT), RD_KAFKA_V_KEY(mkey, strlen(mkey)),
                          RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(status), RD_KAFKA_V_END);
    if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    rd_kafka_poll(rk, 100);
  }
  free(buf);
  if (kerr) {
    snprintf(errstr, errstr_size, "could not produce the notification of %s/%s: %s", bucket, key,
             rd_kafka_err2str(kerr));
    return oc_kafka_err(kerr);
  }
  return OC_OK;
}

/* Notifies and waits for the broker's confirmation. */
static oc_err_t oc_cli_notify_one(rd_kafka_t *rk, oc_cli_dr_t *dr, const char *bucket,
                                  const char *key, uint64_t size, int64_t mtime_us,
                                  const char *etag, char *errstr, size_t errstr_size) {
  size_t failed_before = dr->failed;
  int status = 0;
  char why[512];
  oc_err_t err =
      oc_cli_notify_queue(rk, bucket, key, size, mtime_us, etag, &status, errstr, errstr_size);
  if (err) return err;
  err = oc_cli_producer_wait(rk, dr, failed_before, OC_CLI_DELIVERY_TIMEOUT_MS, why, sizeof(why));
  if (err == OC_OK && status != 1) {
    snprintf(why, sizeof(why), "no delivery report");
    err = OC_ERR_UNAVAILABLE;
  }
  if (err) {
    snprintf(errstr, errstr_size, "could not deliver the notification of %s/%s to %s: %s", bucket,
             key, OC_TOPIC_INPUT, why);
    return err;
  }
  return OC_OK;
}

/* ---- notify ---- */

static void oc_cli_notify_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot notify --bucket BUCKET --key KEY [--etag ETAG] [--no-stat]\n\n"
          "Announces $OCELOT_OBJECT_ROOT/BUCKET/KEY on input-notifications (an\n"
          "ObjectNotification keyed BUCKET/KEY) and waits until the broker has it.\n\n"
          "  --etag ETAG  object version (default: \"<mtime_us>-<size>\" of the file)\n"
          "  --no-stat    do not look at the file: announce it even if it does not exist\n"
          "               and accept any key (for tests of bad input)\n");
}

int oc_cli_notify(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {
      {"bucket", required_argument, NULL, 'b'}, {"key", required_argument, NULL, 'k'},
      {"etag", required_argument, NULL, 'e'},   {"no-stat", no_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  const char *bucket = NULL, *key = NULL, *etag = NULL;
  bool no_stat = false;
  char path[PATH_MAX], etag_buf[64], errstr[1024];
  uint64_t size = 0;
  int64_t mtime_us = 0;
  oc_cli_dr_t dr;
  rd_kafka_t *rk = NULL;
  int c, rc = OC_CLI_EXIT_USAGE;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'b':
        bucket = optarg;
        break;
      case 'k':
        key = optarg;
        break;
      case 'e':
        etag = optarg;
        break;
      case 'n':
        no_stat = true;
        break;
      case 'h':
        oc_cli_notify_usage(stdout);
        return OC_CLI_EXIT_OK;
      default:
        return oc_cli_bad_option("notify", c, argv);
    }
  }
  if (optind < argc) {
    oc_cli_errorf("unexpected argument \"%s\"", argv[optind]);
    return rc;
  }
  if (!bucket || !key || !*bucket || !*key) {
    oc_cli_errorf("--bucket and --key are required");
    return rc;
  }
  if (strlen(bucket) > 255 || strlen(key) > OC_CLI_MAX_KEY) {
    oc_cli_errorf("bucket or key too long (limits: 255 and %d bytes)", OC_CLI_MAX_KEY);
    return rc;
  }
  if (!no_stat) {
    struct stat st;
    if (!oc_cli_bucket_ok(bucket)) {
      oc_cli_errorf("invalid bucket \"%s\"", bucket);
      return rc;
    }
    if (!oc_cli_object_key_ok(key)) {
      oc_cli_errorf(
          "invalid key \"%s\": keys are relative and may not contain empty, \".\" or "
          "\"..\" segments",
          key);
      return rc;
    }
    if (snprintf(path, sizeof(path), "%s/%s/%s", oc_cli_object_root(cli), bucket, key) >=
        (int)sizeof(path)) {
      oc_cli_errorf("object path too long");
      return rc;
    }
    rc = OC_CLI_EXIT_FAIL;
    if (stat(path, &st) != 0) {
      oc_cli_errorf(
          "could not stat \"%s\": %s (the object must exist under OCELOT_OBJECT_ROOT; "
          "--no-stat skips this check)",
          path, strerror(errno));
      return rc;
    }
    if (!S_ISREG(st.st_mode)) {
      oc_cli_errorf("\"%s\" is not a regular file", path);
      return rc;
    }
    size = (uint64_t)st.st_size;
    mtime_us = oc_cli_mtime_us(&st);
    if (!etag) {
      snprintf(etag_buf, sizeof(etag_buf), "%lld-%llu", (long long)mtime_us,
               (unsigned long long)size);
      etag = etag_buf;
    }
  }
  rc = OC_CLI_EXIT_FAIL;
  rk = oc_cli_producer_new(cli, &dr);
  if (!rk) goto out;
  if (oc_cli_notify_one(rk, &dr, bucket, key, size, mtime_us, etag, errstr, sizeof(errstr)) !=
      OC_OK) {
    oc_cli_errorf("%s", errstr);
    goto out;
  }
  printf("notified %s/%s (%llu bytes, etag \"%s\") on %s partition %d offset %lld\n", bucket, key,
         (unsigned long long)size, etag ? etag : "", OC_TOPIC_INPUT, (int)dr.last_partition,
         (long long)dr.last_offset);
  rc = OC_CLI_EXIT_OK;
out:
  oc_cli_producer_destroy(rk);
  return rc;
}

/* ---- placing files in the object store ---- */

/* Copies src to dst through "<dir of dst>/.<name>.tmp-<pid>", fsync and rename. */
static int oc_cli_copy_file(const char *src, const char *dst, char *errstr, size_t errstr_size) {
  char tmp[PATH_MAX], dcopy[PATH_MAX], ncopy[PATH_MAX], buf[65536];
  int in = -1, out = -1, rc = -1;
  memcpy(dcopy, dst, strlen(dst) + 1);
  memcpy(ncopy, dst, strlen(dst) + 1);
  if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-%ld", dirname(dcopy), basename(ncopy),
               (long)getpid()) >= (int)sizeof(tmp)) {
    snprintf(errstr, errstr_size, "path too long: \"%s\"", dst);
    return -1;
  }
  in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    snprintf(errstr, errstr_size, "could not open \"%s\": %s", src, strerror(errno));
    goto out;
  }
  out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    snprintf(errstr, errstr_size, "could not create \"%s\": %s", tmp, strerror(errno));
    goto out;
  }
  for (;;) {
    ssize_t r = read(in, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      snprintf(errstr, errstr_size, "could not read \"%s\": %s", src, strerror(errno));
      goto out;
    }
    if (r == 0) break;
    for (ssize_t off = 0; off < r;) {
      ssize_t w = write(out, buf + off, (size_t)(r - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        snprintf(errstr, errstr_size, "could not write \"%s\": %s", tmp, strerror(errno));
        goto out;
      }
      off += w;
    }
  }
  if (fsync(out) != 0 || close(out) != 0) {
    out = -1;
    snprintf(errstr, errstr_size, "could not write \"%s\": %s", tmp, strerror(errno));
    goto out;
  }
  out = -1;
  if (rename(tmp, dst) != 0) {
    snprintf(errstr, errstr_size, "could not rename \"%s\" to \"%s\": %s", tmp, dst,
             strerror(errno));
    goto out;
  }
  rc = 0;
out:
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  if (rc != 0) unlink(tmp);
  return rc;
}

/* Object path of bucket/key, its parent directories created. */
static int oc_cli_object_path(const oc_cli_t *cli, const char *bucket, const char *key, char *path,
                              size_t path_size, char *errstr, size_t errstr_size) {
  char dir[PATH_MAX];
  if (snprintf(path, path_size, "%s/%s/%s", oc_cli_object_root(cli), bucket, key) >=
      (int)path_size) {
    snprintf(errstr, errstr_size, "object path too long for %s/%s", bucket, key);
    return -1;
  }
  memcpy(dir, path, strlen(path) + 1);
  if (oc_cli_mkdirs(dirname(dir)) != 0) {
    snprintf(errstr, errstr_size, "could not create directory for \"%s\": %s", path,
             strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- ingest ---- */

static void oc_cli_ingest_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot ingest --bucket BUCKET [--prefix PREFIX] FILE...\n\n"
          "Copies each FILE to $OCELOT_OBJECT_ROOT/BUCKET/PREFIX<file name> (through a\n"
          "temporary name and rename) and announces it on input-notifications. Prints one\n"
          "line per file; exits non-zero if any file failed.\n");
}

int oc_cli_ingest(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"bucket", required_argument, NULL, 'b'},
                                       {"prefix", required_argument, NULL, 'p'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *bucket = NULL, *prefix = "";
  char errstr[1024];
  oc_cli_dr_t dr;
  rd_kafka_t *rk = NULL;
  int c, nfailed = 0, rc = OC_CLI_EXIT_USAGE;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'b':
        bucket = optarg;
        break;
      case 'p':
        prefix = optarg;
        break;
      case 'h':
        oc_cli_ingest_usage(stdout);
        return OC_CLI_EXIT_OK;
      default:
        return oc_cli_bad_option("ingest", c, argv);
    }
  }
  if (!bucket || !oc_cli_bucket_ok(bucket)) {
    oc_cli_errorf(bucket ? "invalid bucket \"%s\"" : "--bucket is required", bucket);
    return rc;
  }
  if (optind >= argc) {
    oc_cli_errorf("ingest needs at least one file");
    return rc;
  }
  if (strlen(prefix) > OC_CLI_MAX_KEY) {
    oc_cli_errorf("--prefix is too long");
    return rc;
  }
  rc = OC_CLI_EXIT_FAIL;
  rk = oc_cli_producer_new(cli, &dr);
  if (!rk) goto out;
  for (int i = optind; i < argc; i++) {
    const char *file = argv[i];
    char fcopy[PATH_MAX], key[OC_CLI_MAX_KEY * 2 + 2], path[PATH_MAX], etag[64];
    struct stat st;
    if (strlen(file) >= sizeof(fcopy)) {
      oc_cli_errorf("path too long: \"%s\"", file);
      nfailed++;
      continue;
    }
    memcpy(fcopy, file, strlen(file) + 1);
    snprintf(key, sizeof(key), "%s%s", prefix, basename(fcopy));
    if (!oc_cli_object_key_ok(key)) {
      oc_cli_errorf("invalid object key \"%s\" for \"%s\"", key, file);
      nfailed++;
      continue;
    }
    if (stat(file, &st) != 0) {
      oc_cli_errorf("could not stat \"%s\": %s", file, strerror(errno));
      nfailed++;
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      oc_cli_errorf("could not ingest \"%s\": not a regular file", file);
      nfailed++;
      continue;
    }
    if (oc_cli_object_path(cli, bucket, key, path, sizeof(path), errstr, sizeof(errstr)) != 0 ||
        oc_cli_copy_file(file, path, errstr, sizeof(errstr)) != 0 || stat(path, &st) != 0) {
      oc_cli_errorf("could not ingest \"%s\": %s", file, errstr);
      nfailed++;
      continue;
    }
    snprintf(etag, sizeof(etag), "%lld-%llu", (long long)oc_cli_mtime_us(&st),
             (unsigned long long)st.st_size);
    if (oc_cli_notify_one(rk, &dr, bucket, key, (uint64_t)st.st_size, oc_cli_mtime_us(&st), etag,
                          errstr, sizeof(errstr)) != OC_OK) {
      oc_cli_errorf("%s (the file is in the object store; \"ocelot notify\" announces it)", errstr);
      nfailed++;
      continue;
    }
    printf("ingested %s as %s/%s (%llu bytes)\n", file, bucket, key,
           (unsigned long long)st.st_size);
    fflush(stdout);
  }
  rc = nfailed ? OC_CLI_EXIT_FAIL : OC_CLI_EXIT_OK;
out:
  oc_cli_producer_destroy(rk);
  return rc;
}

/* ---- watch ---- */

typedef struct {
  char *rel; /* path relative to the watched directory */
  off_t size;
  int64_t mtime_us;
  bool seen;
} oc_watch_file_t;

typedef struct {
  oc_cli_t *cli;
  const char *dir, *bucket, *prefix;
  dev_t root_dev; /* the object root, skipped if it lies inside dir */
  ino_t root_ino;
  oc_watch_file_t *files;
  size_t nfiles, cap;
  char **pending; /* keys moved in but not yet announced */
  size_t npending;
  rd_kafka_t *rk;
  oc_cli_dr_t dr;
  bool warned_full;
} oc_watch_t;

static volatile sig_atomic_t oc_watch_stop;

static void oc_watch_on_signal(int sig) {
  (void)sig;
  oc_watch_stop = 1;
}

static oc_watch_file_t *oc_watch_find(oc_watch_t *w, const char *rel) {
  for (size_t i = 0; i < w->nfiles; i++)
    if (strcmp(w->files[i].rel, rel) == 0) return &w->files[i];
  return NULL;
}

static void oc_watch_announce(oc_watch_t *w, const char *key) {
  char path[PATH_MAX], etag[64], errstr[1024];
  struct stat st;
  if (snprintf(path, sizeof(path), "%s/%s/%s", oc_cli_object_root(w->cli), w->bucket, key) >=
          (int)sizeof(path) ||
      stat(path, &st) != 0) {
    oc_log_kv(OC_LOG_ERROR, "moved object vanished before it was announced", "bucket", w->bucket,
              "key", key, NULL);
    return;
  }
  snprintf(etag, sizeof(etag), "%lld-%llu", (long long)oc_cli_mtime_us(&st),
           (unsigned long long)st.st_size);
  if (oc_cli_notify_one(w->rk, &w->dr, w->bucket, key, (uint64_t)st.st_size, oc_cli_mtime_us(&st),
                        etag, errstr, sizeof(errstr)) != OC_OK) {
    char **p = realloc(w->pending, (w->npending + 1) * sizeof(*p));
    char *copy = strdup(key);
    oc_log_kv(OC_LOG_ERROR, "could not announce object; will retry", "bucket", w->bucket, "key",
              key, "error", errstr, NULL);
    if (!p || !copy) {
      free(copy);
      if (p) w->pending = p;
      oc_log_kv(OC_LOG_ERROR, "out of memory: object will not be announced", "key", key, NULL);
      return;
    }
    w->pending = p;
    w->pending[w->npending++] = copy;
    return;
  }
  oc_log_kv(OC_LOG_INFO, "object ingested", "bucket", w->bucket, "key", key, "etag", etag, NULL);
}

static void oc_watch_retry_pending(oc_watch_t *w) {
  size_t n = w->npending;
  char **keys = w->pending;
  w->pending = NULL;
  w->npending = 0;
  for (size_t i = 0; i < n; i++) {
    if (!oc_watch_stop) oc_watch_announce(w, keys[i]);
    free(keys[i]);
  }
  free(keys);
}

/* Moves a file that stopped growing into the object store and announces it. */
static void oc_watch_ingest(oc_watch_t *w, const char *rel) {
  char src[PATH_MAX], key[OC_CLI_MAX_KEY * 2 + 2], path[PATH_MAX], errstr[1024];
  snprintf(src, sizeof(src), "%s/%s", w->dir, rel);
  if (snprintf(key, sizeof(key), "%s%s", w->prefix, rel) >= (int)sizeof(key) ||
      !oc_cli_object_key_ok(key)) {
    oc_log_kv(OC_LOG_ERROR, "file name is not a valid object key; left in place", "file", src,
              NULL);
    return;
  }
  if (oc_cli_object_path(w->cli, w->bucket, key, path, sizeof(path), errstr, sizeof(errstr)) != 0) {
    oc_log_kv(OC_LOG_ERROR, "could not move file", "file", src, "error", errstr, NULL);
    return;
  }
  if (rename(src, path) != 0) {
    if (errno != EXDEV) {
      oc_log_kv(OC_LOG_ERROR, "could not move file", "file", src, "to", path, "error",
                strerror(errno), NULL);
      return;
    }
    /* Another filesystem: copy (temp + rename), then remove the original. */
    if (oc_cli_copy_file(src, path, errstr, sizeof(errstr)) != 0) {
      oc_log_kv(OC_LOG_ERROR, "could not move file", "file", src, "error", errstr, NULL);
      return;
    }
    if (unlink(src) != 0)
      oc_log_kv(OC_LOG_WARN, "copied file could not be removed", "file", src, "error",
                strerror(errno), NULL);
  }
  oc_watch_announce(w, key);
}

static void oc_watch_scan(oc_watch_t *w, const char *rel_dir, int depth) {
  char dpath[PATH_MAX];
  DIR *d;
  struct dirent *de;
  if (snprintf(dpath, sizeof(dpath), "%s%s%s", w->dir, *rel_dir ? "/" : "", rel_dir) >=
      (int)sizeof(dpath))
    return;
  d = opendir(dpath);
  if (!d) {
    if (depth == 0)
      oc_log_kv(OC_LOG_WARN, "could not open the watched directory", "dir", dpath, "error",
                strerror(errno), NULL);
    return;
  }
  while ((de = readdir(d)) != NULL && !oc_watch_stop) {
    char rel[PATH_MAX], full[PATH_MAX];
    struct stat st;
    oc_watch_file_t *f;
    /* Hidden names are writers' temporary files (and ours). */
    if (de->d_name[0] == '.') continue;
    if (snprintf(rel, sizeof(rel), "%s%s%s", rel_dir, *rel_dir ? "/" : "", de->d_name) >=
            (int)sizeof(rel) ||
        snprintf(full, sizeof(full), "%s/%s", w->dir, rel) >= (int)sizeof(full))
      continue;
    if (lstat(full, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth + 1 < OC_CLI_WATCH_MAX_DEPTH &&
          !(st.st_dev == w->root_dev && st.st_ino == w->root_ino))
        oc_watch_scan(w, rel, depth + 1);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    f = oc_watch_find(w, rel);
    if (f) {
      f->seen = true;
      if (f->size == st.st_size && f->mtime_us == oc_cli_mtime_us(&st)) {
        oc_watch_ingest(w, rel);
        f->seen = false; /* moved (or failed: seen afresh next time) */
      } else {
        f->size = st.st_size;
        f->mtime_us = oc_cli_mtime_us(&st);
      }
      continue;
    }
    if (w->nfiles >= OC_CLI_WATCH_MAX_FILES) {
      if (!w->warned_full)
        oc_log(OC_LOG_WARN,
               "more than %d files waiting in the watched directory; the rest "
               "waits for the next polls",
               OC_CLI_WATCH_MAX_FILES);
      w->warned_full = true;
      continue;
    }
    if (w->nfiles == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 64;
      oc_watch_file_t *files = realloc(w->files, cap * sizeof(*files));
      if (!files) continue;
      w->files = files;
      w->cap = cap;
    }
    f = &w->files[w->nfiles];
    f->rel = strdup(rel);
    if (!f->rel) continue;
    f->size = st.st_size;
    f->mtime_us = oc_cli_mtime_us(&st);
    f->seen = true;
    w->nfiles++;
  }
  closedir(d);
}

static void oc_watch_poll(oc_watch_t *w) {
  size_t j = 0;
  for (size_t i = 0; i < w->nfiles; i++)
    w->files[i].seen = false;
  w->warned_full = false;
  oc_watch_scan(w, "", 0);
  /* Forget files that were moved or disappeared. */
  for (size_t i = 0; i < w->nfiles; i++) {
    if (w->files[i].seen)
      w->files[j++] = w->files[i];
    else
      free(w->files[i].rel);
  }
  w->nfiles = j;
  if (w->npending) oc_watch_retry_pending(w);
  rd_kafka_poll(w->rk, 0);
}

static void oc_cli_watch_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot watch --dir DIR --bucket BUCKET [--prefix PREFIX] [--interval-ms N]\n\n"
          "Polls DIR (and its subdirectories) every N ms (default 1000). A regular file whose\n"
          "size and mtime did not change between two polls is moved to\n"
          "$OCELOT_OBJECT_ROOT/BUCKET/PREFIX<path under DIR> and announced on\n"
          "input-notifications. Names starting with '.' are ignored (temporary files).\n"
          "Runs until SIGTERM or SIGINT.\n");
}

int oc_cli_watch(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {
      {"dir", required_argument, NULL, 'd'},    {"bucket", required_argument, NULL, 'b'},
      {"prefix", required_argument, NULL, 'p'}, {"interval-ms", required_argument, NULL, 'i'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  oc_watch_t w = {.cli = cli, .prefix = ""};
  long long interval_ms = 1000;
  char root[PATH_MAX];
  struct sigaction sa;
  struct stat st;
  int c, rc = OC_CLI_EXIT_USAGE;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'd':
        w.dir = optarg;
        break;
      case 'b':
        w.bucket = optarg;
        break;
      case 'p':
        w.prefix = optarg;
        break;
      case 'i':
        if (!oc_cli_parse_ll("--interval-ms", optarg, 10, 3600000, &interval_ms)) return rc;
        break;
      case 'h':
        oc_cli_watch_usage(stdout);
        return OC_CLI_EXIT_OK;
      default:
        return oc_cli_bad_option("watch", c, argv);
    }
  }
  if (optind < argc) {
    oc_cli_errorf("unexpected argument \"%s\"", argv[optind]);
    return rc;
  }
  if (!w.dir || !*w.dir) {
    oc_cli_errorf("--dir is required");
    return rc;
  }
  if (!w.bucket || !oc_cli_bucket_ok(w.bucket)) {
    oc_cli_errorf(w.bucket ? "invalid bucket \"%s\"" : "--bucket is required", w.bucket);
    return rc;
  }
  if (strlen(w.prefix) > OC_CLI_MAX_KEY) {
    oc_cli_errorf("--prefix is too long");
    return rc;
  }
  rc = OC_CLI_EXIT_FAIL;
  if (oc_cli_mkdirs(w.dir) != 0) {
    oc_cli_errorf("could not create \"%s\": %s", w.dir, strerror(errno));
    return rc;
  }
  snprintf(root, sizeof(root), "%s/%s", oc_cli_object_root(cli), w.bucket);
  if (oc_cli_mkdirs(root) != 0 || stat(root, &st) != 0) {
    oc_cli_errorf("could not create \"%s\": %s", root, strerror(errno));
    return rc;
  }
  w.root_dev = st.st_dev;
  w.root_ino = st.st_ino;
  if (stat(w.dir, &st) == 0 && st.st_dev == w.root_dev && st.st_ino == w.root_ino) {
    oc_cli_errorf("--dir \"%s\" is the bucket's own directory in the object store", w.dir);
    return OC_CLI_EXIT_USAGE;
  }

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = oc_watch_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  w.rk = oc_cli_producer_new(cli, &w.dr);
  if (!w.rk) return rc;
  oc_log_kv(OC_LOG_INFO, "watching directory", "dir", w.dir, "bucket", w.bucket, "prefix", w.prefix,
            "object_root", oc_cli_object_root(cli), NULL);
  while (!oc_watch_stop) {
    int64_t until = oc_monotonic_us() + interval_ms * 1000;
    oc_watch_poll(&w);
    while (!oc_watch_stop && oc_monotonic_us() < until) {
      int64_t left_ms = (until - oc_monotonic_us()) / 1000;
      rd_kafka_poll(w.rk, (int)(left_ms > 100 ? 100 : left_ms < 0 ? 0 : left_ms));
    }
  }
  oc_log(w.npending ? OC_LOG_WARN : OC_LOG_INFO, "stopping; %zu object(s) not yet announced",
         w.npending);
  for (size_t i = 0; i < w.npending; i++) {
    oc_log_kv(OC_LOG_WARN, "object moved but not announced (run \"ocelot notify\")", "bucket",
              w.bucket, "key", w.pending[i], NULL);
    free(w.pending[i]);
  }
  free(w.pending);
  for (size_t i = 0; i < w.nfiles; i++)
    free(w.files[i].rel);
  free(w.files);
  oc_cli_producer_destroy(w.rk);
  return w.npending ? OC_CLI_EXIT_FAIL : OC_CLI_EXIT_OK;
}
