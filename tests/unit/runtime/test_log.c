/* Unit tests for log.c: one JSON object per line on stderr, JSON escaping (quotes,
 * backslashes, control characters, invalid UTF-8), level filtering, key/value fields
 * and truncation of very long messages. stderr is redirected to a file to read it back. */
#include "common/log.h"

#include <stdlib.h>
#include <unistd.h>

#include "oc_test.h"

static char *captured(void (*fn)(void)) {
  char path[] = "/tmp/oc-test-log-XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  off_t size = lseek(fd, 0, SEEK_END);
  char *text = calloc(1, (size_t)size + 1);
  if (pread(fd, text, (size_t)size, 0) != size) text[0] = '\0';
  close(fd);
  unlink(path);
  return text;
}

static void log_escapes(void) {
  oc_log_init("svc\"x", OC_LOG_INFO);
  oc_log(OC_LOG_INFO, "a \"quoted\" \\ line\nnext\t%c %s \xff end", 1, "\xc3\xa9");
}

static void test_escaping(void) {
  char *text = captured(log_escapes);
  OC_CHECK(strncmp(text, "{\"ts\":\"", 7) == 0);
  OC_CHECK(strstr(text, "\",\"level\":\"info\",\"service\":\"svc\\\"x\",\"msg\":") != NULL);
  OC_CHECK(
      strstr(text,
             "\"msg\":\"a \\\"quoted\\\" \\\\ line\\nnext\\t\\u0001 \xc3\xa9 \\ufffd end\"}\n") !=
      NULL);
  /* One line: the only newline is the last byte. */
  OC_CHECK(strchr(text, '\n') == text + strlen(text) - 1);
  /* ts: 2026-11-28T16:37:40.123Z */
  OC_CHECK(strlen(text) > 32 && text[17] == 'T' && text[30] == 'Z');
  free(text);
}

static void log_levels(void) {
  oc_log_init("lvl", OC_LOG_WARN);
  oc_log(OC_LOG_DEBUG, "debug-hidden");
  oc_log(OC_LOG_INFO, "info-hidden");
  OC_WARN("warn-shown %d", 1);
  OC_ERROR("error-shown");
  oc_log_kv(OC_LOG_INFO, "kv-hidden", "k", "v", NULL);
  oc_log_kv(OC_LOG_ERROR, "kv-shown", "topic", "t\"1", "missing", NULL, "n", "2", NULL);
}

static void test_levels_and_kv(void) {
  char *text = captured(log_levels);
  OC_CHECK(strstr(text, "hidden") == NULL);
  OC_CHECK(strstr(text, "\"level\":\"warn\",\"service\":\"lvl\",\"msg\":\"warn-shown 1\"}\n") !=
           NULL);
  OC_CHECK(strstr(text, "\"level\":\"error\",\"service\":\"lvl\",\"msg\":\"error-shown\"}\n") !=
           NULL);
  OC_CHECK(
      strstr(text, "\"msg\":\"kv-shown\",\"topic\":\"t\\\"1\",\"missing\":null,\"n\":\"2\"}\n") !=
      NULL);
  int lines = 0;
  for (const char *p = text; *p; p++)
    lines += *p == '\n';
  OC_CHECK_INT(lines, 3);
  free(text);
}

static void log_long(void) {
  oc_log_init("long", OC_LOG_INFO);
  char *big = malloc(40000);
  memset(big, 'a', 39999);
  big[39999] = '\0';
  for (int i = 0; i < 39999; i += 3)
    big[i] = '"'; /* escapes double the size */
  oc_log_kv(OC_LOG_INFO, "long kv", "value", big, "after", "x", NULL);
  oc_log(OC_LOG_INFO, "%s", big);
  free(big);
}

static void test_truncation(void) {
  char *text = captured(log_long);
  char *second = strchr(text, '\n');
  OC_CHECK(second != NULL);
  if (!second) return;
  *second++ = '\0';
  /* First line: the long value is cut with a marker, the line still closes. */
  OC_CHECK(strlen(text) <= 16384 + 8);
  OC_CHECK(strstr(text, "\"msg\":\"long kv\",\"value\":\"") != NULL);
  OC_CHECK(strlen(text) > 8 && strcmp(text + strlen(text) - 5, "...\"}") == 0);
  /* Second line: the message itself was cut. */
  OC_CHECK(strlen(second) <= 16384 + 9);
  OC_CHECK(strlen(second) > 6 && strcmp(second + strlen(second) - 6, "...\"}\n") == 0);
  free(text);
}

static void test_level_parse(void) {
  OC_CHECK_INT(oc_log_level_parse("debug"), OC_LOG_DEBUG);
  OC_CHECK_INT(oc_log_level_parse("INFO"), OC_LOG_INFO);
  OC_CHECK_INT(oc_log_level_parse("warn"), OC_LOG_WARN);
  OC_CHECK_INT(oc_log_level_parse("warning"), OC_LOG_WARN);
  OC_CHECK_INT(oc_log_level_parse("error"), OC_LOG_ERROR);
  OC_CHECK_INT(oc_log_level_parse("loud"), -1);
  OC_CHECK_INT(oc_log_level_parse(""), -1);
  OC_CHECK_INT(oc_log_level_parse(NULL), -1);
}

OC_TEST_MAIN(OC_TEST(test_escaping), OC_TEST(test_levels_and_kv), OC_TEST(test_truncation),
             OC_TEST(test_level_parse))
