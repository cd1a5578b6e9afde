/* A throwaway PostgreSQL schema for a store test (include after cmocka.h): created on
 * the server PSKPROV_TEST_PG names, with a conninfo that puts a store opened with it
 * there, and dropped afterwards. */
#ifndef PSKPROV_TEST_STORE_PGSCHEMA_H
#define PSKPROV_TEST_STORE_PGSCHEMA_H

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_store_pgenv.h"

/* Runs one statement on the raw connection; a failure fails the test. */
static inline void pg_test_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("raw sql '%s': %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* A new schema TAG_PID_N and a conninfo with it as the search path; *raw stays open
 * (for pg_test_exec and the drop). 0, or -1 when the server cannot be reached. */
static inline int pg_test_schema_open(const char *tag, PGconn **raw, char *schema, size_t scap,
				      char *conninfo, size_t ccap)
{
	static unsigned counter;
	const char *b = pg_test_conninfo();
	if (!b)
		return -1;
	snprintf(schema, scap, "%s_%ld_%u", tag, (long)getpid(), ++counter);
	*raw = PQconnectdb(b);
	if (PQstatus(*raw) != CONNECTION_OK)
		return -1;
	char sql[160];
	pg_test_exec(*raw, "SET client_min_messages = warning");
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	pg_test_exec(*raw, sql);
	snprintf(sql, sizeof(sql), "SET search_path = %s", schema);
	pg_test_exec(*raw, sql);
	if (strncmp(b, "postgresql://", 13) == 0 || strncmp(b, "postgres://", 11) == 0)
		snprintf(conninfo, ccap, "%s%coptions=-csearch_path%%3D%s", b,
			 strchr(b, '?') ? '&' : '?', schema);
	else
		snprintf(conninfo, ccap, "%s options='-csearch_path=%s'", b, schema);
	return 0;
}

static inline void pg_test_schema_drop(PGconn *raw, const char *schema)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
	pg_test_exec(raw, sql);
	PQfinish(raw);
}

#endif
