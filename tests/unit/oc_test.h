/* oc_test.h: a minimal unit-test harness. Each test is a function; OC_CHECK records a
 * failure and continues; oc_test_main() runs the list and prints "N passed, N failed". */
#ifndef OC_TEST_H
#define OC_TEST_H

#include <stdio.h>
#include <string.h>

static int oc_test_failures_;

#define OC_CHECK(cond)                                                         \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      oc_test_failures_++;                                                     \
    }                                                                          \
  } while (0)

#define OC_CHECK_STR(a, b)                                                               \
  do {                                                                                   \
    const char *a_ = (a), *b_ = (b);                                                     \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                             \
      fprintf(stderr, "%s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
              a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                   \
      oc_test_failures_++;                                                               \
    }                                                                                    \
  } while (0)

#define OC_CHECK_INT(a, b)                                                                    \
  do {                                                                                        \
    long long a_ = (long long)(a), b_ = (long long)(b);                                       \
    if (a_ != b_) {                                                                           \
      fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b, a_, b_); \
      oc_test_failures_++;                                                                    \
    }                                                                                         \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
} oc_test_case_t;

#define OC_TEST(fn) \
  { #fn, fn }

static inline int oc_test_main(const oc_test_case_t *cases, size_t n) {
  int passed = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    int before = oc_test_failures_;
    cases[i].fn();
    if (oc_test_failures_ == before) {
      passed++;
      printf("ok   %s\n", cases[i].name);
    } else {
      failed++;
      printf("FAIL %s\n", cases[i].name);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#define OC_TEST_MAIN(...)                                            \
  int main(void) {                                                   \
    static const oc_test_case_t cases_[] = {__VA_ARGS__};            \
    return oc_test_main(cases_, sizeof(cases_) / sizeof(cases_[0])); \
  }

#endif
