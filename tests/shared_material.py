"""Where the external test material is (one setting for every test that needs it).

HYBRID_NC_TEST_DATA names the folder (recordings in casts/, conformance suites in conformance/,
SVAMP/GSM8K in arith/); the default is ../shared/data beside the clone. Tests that need it are
skipped with `NO_DATA` as the reason when it is absent.
"""

from __future__ import annotations

from hybrid_nc.evaluation.common import SHARED_DATA  # the one place the setting is read

NO_DATA = (f"external test material not found at {SHARED_DATA} "
           "(set HYBRID_NC_TEST_DATA to run these tests)")
