/* Unit tests for err.c: names, texts and the transient/permanent classes. */
#include "common/err.h"

#include "oc_test.h"

static void test_names_and_texts(void) {
  OC_CHECK_STR(oc_err_name(OC_OK), "OC_OK");
  OC_CHECK_STR(oc_err_name(OC_ERR_UNAVAILABLE), "OC_ERR_UNAVAILABLE");
  OC_CHECK_STR(oc_err_name(OC_ERR_DECODE), "OC_ERR_DECODE");
  OC_CHECK_STR(oc_err_name(OC_ERR_EOF), "OC_ERR_EOF");
  OC_CHECK_STR(oc_err_str(OC_ERR_UNAVAILABLE), "dependency unavailable");
  /* Every code has a distinct name and a text. */
  for (int a = 0; a > OC_ERR__MIN; a--) {
    OC_CHECK(oc_err_str((oc_err_t)a) != NULL && *oc_err_str((oc_err_t)a));
    OC_CHECK(strncmp(oc_err_name((oc_err_t)a), "OC_", 3) == 0);
    for (int b = a - 1; b > OC_ERR__MIN; b--)
      OC_CHECK(strcmp(oc_err_name((oc_err_t)a), oc_err_name((oc_err_t)b)) != 0);
  }
}

static void test_unknown_codes(void) {
  OC_CHECK_STR(oc_err_name(OC_ERR__MIN), "OC_ERR_UNKNOWN");
  OC_CHECK_STR(oc_err_name((oc_err_t)-999), "OC_ERR_UNKNOWN");
  OC_CHECK_STR(oc_err_name((oc_err_t)5), "OC_ERR_UNKNOWN");
  OC_CHECK_STR(oc_err_str((oc_err_t)-999), "unknown error");
  OC_CHECK(!oc_err_is_transient((oc_err_t)-999));
}

static void test_classes(void) {
  const oc_err_t transient[] = {OC_ERR_NOMEM, OC_ERR_IO, OC_ERR_UNAVAILABLE, OC_ERR_TIMEOUT,
                                OC_ERR_CONFLICT};
  const oc_err_t permanent[] = {OC_ERR_INVALID, OC_ERR_NOT_FOUND, OC_ERR_DECODE,
                                OC_ERR_LIMIT,   OC_ERR_REMOTE,    OC_ERR_INTERNAL};
  for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
    OC_CHECK(oc_err_is_transient(transient[i]));
    OC_CHECK_STR(oc_err_class(transient[i]), "transient");
  }
  for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++) {
    OC_CHECK(!oc_err_is_transient(permanent[i]));
    OC_CHECK_STR(oc_err_class(permanent[i]), "permanent");
  }
  OC_CHECK(!oc_err_is_transient(OC_OK));
  OC_CHECK(!oc_err_is_transient(OC_ERR_EOF));
}

OC_TEST_MAIN(OC_TEST(test_names_and_texts), OC_TEST(test_unknown_codes), OC_TEST(test_classes))
