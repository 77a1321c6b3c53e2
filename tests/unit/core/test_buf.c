/* test_buf.c: the growable byte buffer (common/buf.c). */
#include "common/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oc_test.h"

static void test_append(void) {
  oc_buf_t b;
  oc_buf_init(&b);
  OC_CHECK(b.data == NULL && b.len == 0 && oc_buf_ok(&b));
  oc_buf_append(&b, "abc", 3);
  oc_buf_putc(&b, '-');
  oc_buf_puts(&b, "def");
  OC_CHECK_STR(b.data, "abc-def");
  OC_CHECK_INT(b.len, 7);
  oc_buf_append(&b, "", 0);
  OC_CHECK_INT(b.len, 7);
  /* binary data with NULs: len counts them, the terminator follows */
  oc_buf_append(&b, "\0x", 2);
  OC_CHECK_INT(b.len, 9);
  OC_CHECK(b.data[7] == '\0' && b.data[8] == 'x' && b.data[9] == '\0');
  /* growth across many reallocations keeps the contents */
  oc_buf_reset(&b);
  OC_CHECK(b.len == 0 && b.data && b.data[0] == '\0');
  for (int i = 0; i < 100000; i++)
    oc_buf_putc(&b, (char)('a' + i % 26));
  OC_CHECK_INT(b.len, 100000);
  int bad = 0;
  for (int i = 0; i < 100000; i++)
    if (b.data[i] != (char)('a' + i % 26)) bad++;
  OC_CHECK_INT(bad, 0);
  OC_CHECK(b.data[100000] == '\0');
  OC_CHECK(b.cap > b.len);
  /* reset keeps the memory */
  size_t cap = b.cap;
  char *data = b.data;
  oc_buf_reset(&b);
  OC_CHECK(b.cap == cap && b.data == data && b.len == 0);
  oc_buf_deinit(&b);
  OC_CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
  oc_buf_deinit(&b);
}

static void test_appendf(void) {
  oc_buf_t b;
  oc_buf_init(&b);
  oc_buf_appendf(&b, "%s=%d", "n", 5);
  oc_buf_appendf(&b, ";%05.2f", 1.5);
  OC_CHECK_STR(b.data, "n=5;01.50");
  /* longer than the internal 256-byte scratch */
  char big[1000];
  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  oc_buf_appendf(&b, "[%s]", big);
  OC_CHECK_INT(b.len, 9 + 1 + 999 + 1);
  OC_CHECK(b.data[9] == '[' && b.data[10] == 'z' && b.data[b.len - 1] == ']');
  OC_CHECK(b.data[b.len] == '\0');
  oc_buf_deinit(&b);
}

static void test_numbers(void) {
  oc_buf_t b;
  oc_buf_init(&b);
  oc_buf_append_u64(&b, 0);
  oc_buf_putc(&b, ' ');
  oc_buf_append_u64(&b, 1234567890);
  oc_buf_putc(&b, ' ');
  oc_buf_append_u64(&b, UINT64_MAX);
  oc_buf_putc(&b, ' ');
  oc_buf_append_i64(&b, -1);
  oc_buf_putc(&b, ' ');
  oc_buf_append_i64(&b, INT64_MIN);
  oc_buf_putc(&b, ' ');
  oc_buf_append_i64(&b, INT64_MAX);
  oc_buf_putc(&b, ' ');
  oc_buf_append_i64(&b, 0);
  OC_CHECK_STR(b.data,
               "0 1234567890 18446744073709551615 -1 -9223372036854775808 "
               "9223372036854775807 0");
  oc_buf_deinit(&b);
}

static void test_reserve_and_oom(void) {
  oc_buf_t b;
  oc_buf_init(&b);
  OC_CHECK(oc_buf_reserve(&b, 1000));
  OC_CHECK(b.cap >= 1001 && b.data && b.data[0] == '\0');
  /* an impossible size fails, and the failure is sticky */
  oc_buf_puts(&b, "kept");
  OC_CHECK(!oc_buf_reserve(&b, SIZE_MAX));
  OC_CHECK(!oc_buf_ok(&b));
  oc_buf_puts(&b, "more");
  oc_buf_putc(&b, 'x');
  oc_buf_appendf(&b, "%d", 1);
  oc_buf_append_u64(&b, 7);
  OC_CHECK_INT(b.len, 4);
  OC_CHECK(!oc_buf_reserve(&b, 1));
  /* stealing a failed buffer hands out nothing rather than partial data */
  size_t n = 99;
  char *s = oc_buf_steal(&b, &n);
  OC_CHECK(s == NULL && n == 0);
  oc_buf_deinit(&b);
  OC_CHECK(oc_buf_ok(&b)); /* deinit clears the state */
  /* a size that overflows len + extra also fails */
  oc_buf_init(&b);
  oc_buf_puts(&b, "ab");
  OC_CHECK(!oc_buf_reserve(&b, SIZE_MAX - 2));
  OC_CHECK(!oc_buf_ok(&b));
  oc_buf_deinit(&b);
}

static void test_steal(void) {
  oc_buf_t b;
  oc_buf_init(&b);
  oc_buf_puts(&b, "owned");
  size_t n = 0;
  char *s = oc_buf_steal(&b, &n);
  OC_CHECK_STR(s, "owned");
  OC_CHECK_INT(n, 5);
  OC_CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
  free(s);
  /* the buffer is usable again */
  oc_buf_puts(&b, "again");
  OC_CHECK_STR(b.data, "again");
  oc_buf_deinit(&b);
  /* an empty buffer gives an empty string, not NULL */
  oc_buf_init(&b);
  s = oc_buf_steal(&b, NULL);
  OC_CHECK_STR(s, "");
  free(s);
  oc_buf_deinit(&b);
}

OC_TEST_MAIN(OC_TEST(test_append), OC_TEST(test_appendf), OC_TEST(test_numbers),
             OC_TEST(test_reserve_and_oom), OC_TEST(test_steal))
