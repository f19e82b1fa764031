"""Hypothesis profiles for the property-based suite (test_properties.py).

- ``ci`` (the default): a fixed budget of examples, derandomized, so that every
  run of ``pytest tests`` tests the same inputs in a few seconds.
- ``deep``: many more examples, random; run by hand with
  ``HYPOTHESIS_PROFILE=deep pytest tests/test_properties.py``.
"""
import os

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # test_properties.py skips itself without hypothesis
    settings = None

if settings is not None:
    _COMMON = {
        "deadline": None,  # timings on a shared machine are noise
        # large arrays (above the threading threshold) are drawn on purpose
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                  HealthCheck.filter_too_much],
        "print_blob": True,
    }
    settings.register_profile("ci", max_examples=60, derandomize=True, database=None,
                              **_COMMON)
    settings.register_profile("deep", max_examples=4000, **_COMMON)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
