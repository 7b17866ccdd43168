"""tests/events/reference/ is a copy of the shared reference events: it must not drift from them."""

from __future__ import annotations

import pytest

from support.paths import REFERENCE_EVENTS, SHARED_REFERENCE_EVENTS


def test_the_copied_reference_events_equal_the_shared_ones():
    if not SHARED_REFERENCE_EVENTS.is_dir():
        pytest.skip(f"{SHARED_REFERENCE_EVENTS} is not beside this checkout (a bare clone, as in CI)")
    shared = {path.name: path.read_bytes() for path in SHARED_REFERENCE_EVENTS.glob("*.json")}
    copied = {path.name: path.read_bytes() for path in REFERENCE_EVENTS.glob("*.json")}
    assert shared and copied == shared
