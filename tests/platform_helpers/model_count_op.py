"""Test-only op on the model worker: the count op with RESOURCE 'model' (scheduler tests)."""
from tests.platform_helpers.count_op import INPUTS, available, params_schema, run  # noqa: F401

NAME = "model_count"
RESOURCE = "model"
SUMMARY = "count to n slowly on the model worker (test op)"
