#!/usr/bin/env bash
# api_pg: integration/api on PostgreSQL (a schema of its own in the throwaway cluster of
# scripts/pg-test.sh; skipped, exit 77, without one).
API_BACKEND=postgres exec bash "$(dirname "$0")/api.sh"
