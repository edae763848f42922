"""Every refusal pickles whole: one raised in another process (a multiprocessing pool
reading scenarios, say) is raised again, the same, in the caller's."""

from __future__ import annotations

import inspect
import multiprocessing
import pickle
import typing
from collections.abc import Sequence
from typing import Any

import pytest

import tansiq.api.app  # noqa: F401  (its errors are subclasses too)
from tansiq.errors import ScenarioInvalid, TansiqError

#: a sample argument for each type an error's __init__ takes
SAMPLES: dict[Any, Any] = {
    str: "v-1",
    int: 7,
    float: 2.5,
    OSError: OSError(28, "No space left on device"),
    Sequence[str]: ["features[0]: radius_m must be > 0"],
    Sequence[tuple[str, str]] | None: [("features[0].properties.radius_m", "> 0")],
}


def every_error() -> list[type[TansiqError]]:
    found, todo = [], [TansiqError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def sample(kind: type[TansiqError]) -> TansiqError:
    if kind.__init__ is Exception.__init__:  # taken as Exception's: a message
        return kind("the store is full")
    hints = typing.get_type_hints(kind.__init__)
    names = [n for n in inspect.signature(kind.__init__).parameters if n != "self"]
    return kind(*(SAMPLES[hints[name]] for name in names))


@pytest.mark.parametrize("kind", every_error(), ids=lambda kind: kind.__name__)
def test_every_error_pickles_as_it_was(kind: type[TansiqError]) -> None:
    """Its class, message, exit code, status, headers and the members its problem names."""
    made = sample(kind)
    again = pickle.loads(pickle.dumps(made))
    assert type(again) is kind
    assert str(again) == str(made) and again.args == made.args
    assert (again.exit_code, again.http_status) == (made.exit_code, made.http_status)
    assert again.http_headers == made.http_headers
    assert again.problem_members == made.problem_members
    # by repr: an OSError inside (OutputLost's cause) equals only itself
    assert {k: repr(v) for k, v in vars(again).items()} == {
        k: repr(v) for k, v in vars(made).items()
    }


def refuse(text: str) -> None:
    from tansiq.scenario.reader import parse_scenario

    parse_scenario(text)


def test_a_refusal_in_a_pool_worker_reaches_the_caller_whole() -> None:
    """Unpickled Exception's way, the worker's ScenarioInvalid came back with its
    message taken for its problems: for this file's two it said "scenario refused,
    164 problems" and listed one character a line (its ``problems`` and ``places``,
    restored after from its attributes, were right)."""
    empty = '{"type": "FeatureCollection"}'
    with pytest.raises(ScenarioInvalid) as here:
        refuse(empty)
    with (
        multiprocessing.get_context("spawn").Pool(1) as pool,
        pytest.raises(ScenarioInvalid) as there,
    ):
        pool.apply(refuse, (empty,))
    assert str(there.value) == str(here.value)  # what the caller prints
    assert there.value.problems == here.value.problems and len(here.value.problems) == 2
    assert there.value.places == here.value.places
