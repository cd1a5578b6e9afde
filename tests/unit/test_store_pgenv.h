/* Whether a PostgreSQL store suite can run, and how it says it cannot.
 *
 * PSKPROV_TEST_PG names the server (scripts/pg-test.sh sets it). Without it a PostgreSQL
 * suite exits PP_TEST_SKIPPED, which CMakeLists.txt declares as the suite's
 * SKIP_RETURN_CODE: ctest reports it "Not Run (Skipped)", never "Passed". With
 * PSKPROV_REQUIRE_PG=1 (CI) a missing server is a failure instead. */
#ifndef PSKPROV_TEST_STORE_PGENV_H
#define PSKPROV_TEST_STORE_PGENV_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PP_TEST_PG_ENV "PSKPROV_TEST_PG"
#define PP_TEST_SKIPPED 77

static inline const char *pg_test_conninfo(void)
{
	const char *c = getenv(PP_TEST_PG_ENV);
	return c && *c ? c : NULL;
}

/* The exit status of a suite that has no server: skipped, or failed when required. */
static inline int pg_test_missing(const char *suite)
{
	const char *req = getenv("PSKPROV_REQUIRE_PG");
	bool required = req && strcmp(req, "1") == 0;
	fprintf(stderr,
		"%s: %s: " PP_TEST_PG_ENV " is not set (run under 'sh scripts/pg-test.sh run ...')"
		"\n",
		suite, required ? "FAILED, PSKPROV_REQUIRE_PG=1" : "skipped");
	return required ? 1 : PP_TEST_SKIPPED;
}

#endif
