"""pytest fixtures for the Lambda Cloud API emulator.

Load with ``pytest_plugins = ["lambda_emulator.fixtures"]`` (tests/ on sys.path).

* ``lambda_spec`` (session): the SpecValidator for Lambda's OpenAPI document.
* ``lambda_emulator_factory`` (function): ``make(**settings)`` starts an emulator;
  every emulator it made is stopped at teardown. It also sets LAMBDA_REQUEST_INTERVAL, so
  clients built from options pace themselves to that emulator's general rate limit.
* ``lambda_emulator`` (function): one emulator, configured by the test's
  ``@pytest.mark.lambda_emulator(**settings)`` marker on top of FIXTURE_DEFAULTS.

Every /api/v1 response these emulators send is checked against the spec; at
teardown the test fails (as a teardown error) if any response violated it or
the emulator hit an internal error. ``make(validate_responses=False, ...)``
switches the check off for a test that injects deliberately off-spec errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import LambdaEmulator
from .spec import SpecValidator

# Named here rather than imported from the collection: the emulator does not depend on the code it tests.
REQUEST_INTERVAL_ENV = "LAMBDA_REQUEST_INTERVAL"

# Compressed time (boot 0.1 s, terminate 0.05 s) and no rate limits, so tests are fast and
# deterministic. A test of rate limiting opts in, e.g. with
# @pytest.mark.lambda_emulator(rate_limit_per_second=1.0, launch_interval_seconds=12.0, retry_after_seconds=0):
# at time_scale 0.01 that is 100 requests/s and one launch per 0.12 s.
FIXTURE_DEFAULTS: dict[str, Any] = {"time_scale": 0.01, "rate_limit_per_second": None, "launch_interval_seconds": None}

EmulatorFactory = Callable[..., LambdaEmulator]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lambda_emulator(**settings): LambdaEmulator settings for the lambda_emulator fixture "
        "(EmulatorConfig fields, state=..., validate_responses=False)",
    )


@pytest.fixture(scope="session")
def lambda_spec() -> SpecValidator:
    return SpecValidator()


class _SpecWatch:
    """Collects spec violations from the response hook of one or more emulators."""

    def __init__(self, spec: SpecValidator) -> None:
        self.spec = spec
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, method: str, template: str | None, status: int, body: Any) -> None:
        errors = self.spec.response_errors(method, template, status, body)
        if errors:
            with self._lock:
                self.violations.append(f"{method} {template or '<no route>'} -> {status}: {'; '.join(errors)}")


@pytest.fixture
def lambda_emulator_factory(lambda_spec: SpecValidator, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorFactory]:
    watch = _SpecWatch(lambda_spec)
    started: list[LambdaEmulator] = []

    def make(*, validate_responses: bool = True, **settings: Any) -> LambdaEmulator:
        emulator = LambdaEmulator(spec=lambda_spec, response_hook=watch if validate_responses else None,
                                  **{**FIXTURE_DEFAULTS, **settings})
        started.append(emulator)
        monkeypatch.setenv(REQUEST_INTERVAL_ENV, repr(emulator.config.client_request_interval()))
        return emulator.start()

    yield make

    for emulator in started:
        emulator.stop()
    problems = list(watch.violations)
    for emulator in started:
        problems.extend(f"emulator internal error:\n{error}" for error in emulator.internal_errors)
    if problems:
        pytest.fail("Lambda emulator responses broke the OpenAPI spec or the emulator failed:\n"
                    + "\n".join(problems), pytrace=False)


@pytest.fixture
def lambda_emulator(request: pytest.FixtureRequest, lambda_emulator_factory: EmulatorFactory) -> LambdaEmulator:
    # Markers merge, the closest (function over class over module) winning per setting.
    settings: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("lambda_emulator"))):
        settings.update(marker.kwargs)
    return lambda_emulator_factory(**settings)
