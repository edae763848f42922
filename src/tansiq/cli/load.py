"""``tansiq load``: file a whole scenario through the API, each feature as its party."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tansiq.errors import InputError, InputProblems
from tansiq.scenario.reader import load_scenario
from tansiq.service.rules import rules_json
from tansiq.service.tokens import parse as parse_token
from tansiq.service.zone_rules import check_zone_rules

CATEGORIES = {"operation": "operations", "site": "sites", "zone": "zones"}


def token_variable(party_id: str) -> str:
    """The environment variable that holds a party's token: TANSIQ_TOKEN_<ID>."""
    return "TANSIQ_TOKEN_" + re.sub(r"[^A-Za-z0-9]", "_", party_id).upper()


def read_tokens(path: Path | None, party_ids: list[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"--tokens: cannot read {path}: {exc}") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise InputError(f'--tokens: {path} must be a JSON object {{"party": "token"}}')
        given.update(loaded)
    tokens = {}
    for party in party_ids:
        from_file = given.get(party)
        token = (from_file or os.environ.get(token_variable(party)) or "").strip()
        where = f"--tokens {path}" if from_file else f"${token_variable(party)}"
        if not token:
            raise InputError(
                f"no token for party {party!r}: put it in --tokens FILE or ${token_variable(party)}"
            )
        if parse_token(token) is None:
            # never shown: a secret in a terminal or a CI log is a secret given away (the
            # server's refusal of the header quoted it whole; a reviewer)
            raise InputError(
                f"{where}: the token of party {party!r} is not a Tansiq token"
                " (tsq_<id>_<secret>, as `tansiq party add` prints it)"
            )
        tokens[party] = token
    return tokens


#: the problem a new filing's key gets when the filing it made is cancelled
CANCELLED_SINCE = "urn:tansiq:problem:keyed-filing-cancelled"
#: how many times --again files a feature cancelled again and again (then refused)
MAX_REFILINGS = 100


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", required=True, help="The Tansiq server, e.g. http://127.0.0.1:8000.")
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help='A JSON file {"party id": "token"}; else $TANSIQ_TOKEN_<PARTY> for each party.',
)
@click.option(
    "--coordinator",
    metavar="PARTY",
    help="Set the server's separation rules to the scenario's first, as this coordinator.",
)
@click.option(
    "--again",
    is_flag=True,
    help="File again the features an earlier load of this file filed and that were"
    " cancelled since (those still standing are never filed twice; a feature cancelled"
    f" more than {MAX_REFILINGS} times is not filed again).",
)
def load(
    scenario: Path, url: str, tokens_file: Path | None, coordinator: str | None, again: bool
) -> None:
    """File every feature of SCENARIO through the API at URL, each as its own party.

    The file is validated first (nothing is sent if it breaks scenario-v1). Each
    feature becomes one filing: an operation, or a site or zone if its
    properties say "category": "site" or "zone". Prints how many filings and
    conflicts were made; exits 1 if any filing was refused. Each filing carries an
    Idempotency-Key made from the file's content and the feature's id, so loading
    the same file again (after a lost connection, say) files only what the server
    does not have yet; a feature an earlier load filed and that was cancelled since
    is not filed again (refused, exit 1) unless --again.
    """
    loaded = load_scenario(scenario)
    content = scenario.read_bytes()
    features: list[dict[str, Any]] = json.loads(content)["features"]
    of_file = hashlib.sha256(content).hexdigest()[:32]
    _check_categories_and_zones(features)
    named = {v.party for v in loaded.volumes}
    party_ids = sorted(named | {coordinator} if coordinator else named)
    tokens = read_tokens(tokens_file, party_ids)
    err = Console(stderr=True)
    conflicts = refused = filed = before = withdrawn = 0

    def so_far() -> str:
        earlier = f", {before} filed by an earlier load" if before else ""
        return f"filed {filed} of {len(features)} features before it{earlier}"

    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=60.0) as client:
            # every token is the party's own before anything is filed: a wrong one would
            # leave the scenario half-filed, and filing again would file the rest twice
            for party in party_ids:
                _require_own_token(client, party, tokens[party])
            if coordinator is not None:
                # the theater's lead time is not in a scenario: kept as it is
                current = client.get(
                    "/v1/theater/rules", headers={"Authorization": f"Bearer {tokens[coordinator]}"}
                )
                _require(current, "reading the theater's rules")
                answer = client.put(
                    "/v1/theater/rules",
                    json={
                        "separation": rules_json(loaded.separation),
                        "lead_time_h": current.json().get("lead_time_h", 0.0),
                    },
                    headers={"Authorization": f"Bearer {tokens[coordinator]}"},
                )
                _require(answer, "setting the separation rules")
            columns = (TextColumn("filing"), BarColumn(), MofNCompleteColumn())
            shown = err.is_terminal
            with Progress(*columns, console=err, transient=True, disable=not shown) as bar:
                task = bar.add_task("filing", total=len(features))
                for feature, volume in zip(features, loaded.volumes, strict=True):
                    category = feature.get("properties", {}).get("category", "operation")
                    path = CATEGORIES[category]  # checked before anything was sent
                    one = json.dumps({"type": "FeatureCollection", "features": [feature]})
                    key = _key(of_file, volume.id)
                    for _ in range(MAX_REFILINGS + 1):
                        answer = client.post(
                            f"/v1/{path}",
                            content=one,
                            headers={
                                "Authorization": f"Bearer {tokens[volume.party]}",
                                "Content-Type": "application/geo+json",
                                "Idempotency-Key": key,
                            },
                        )
                        if not again or _problem_type(answer) != CANCELLED_SINCE:
                            break
                        # filed by an earlier load and cancelled since: filed again under
                        # a key made from that filing's, so that a second --again run finds
                        # this one (resumable), and a standing feature is never re-filed
                        key = _key_after(key, str(answer.json().get("filing", "")))
                    if answer.status_code == 201:
                        if answer.headers.get("Idempotent-Replayed") == "true":
                            before += 1  # filed by an earlier load: nothing done now
                        else:
                            filed += 1
                            conflicts += len(answer.json()["conflicts"])
                    elif _problem_type(answer) == CANCELLED_SINCE and not again:
                        withdrawn += 1  # said once, below
                    else:
                        refused += 1
                        said = (
                            f"filed and cancelled more than {MAX_REFILINGS} times; not filed"
                            " again"
                            if _problem_type(answer) == CANCELLED_SINCE
                            else _detail(answer)
                        )
                        err.print(f"error: feature {volume.id!r}: {said}", markup=False)
                    bar.advance(task)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        said = _without_tokens(str(exc) or type(exc).__name__, tokens.values())
        raise click.ClickException(f"{url}: {said} ({so_far()})") from None
    except KeyboardInterrupt:
        err.print(
            f"interrupted ({so_far()}); loading the file again files only the rest",
            markup=False,
        )
        raise SystemExit(130) from None
    earlier = f" ({before} filed before, by an earlier load of this file)" if before else ""
    click.echo(f"filed {filed} of {len(features)} features for {len(loaded.parties)} parties"
               f"{earlier}; {conflicts} conflicts opened")  # fmt: skip
    if withdrawn:
        err.print(
            f"error: {withdrawn} feature(s) filed by an earlier load of this file were"
            " cancelled since, and were not filed again (tansiq load --again files them"
            " again)",
            markup=False,
        )
    if refused or withdrawn:
        raise SystemExit(1)


def _problem_type(answer: httpx.Response) -> str | None:
    try:
        found = answer.json().get("type")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def _key(of_file: str, feature_id: str) -> str:
    """The Idempotency-Key of a feature's filing: the file's content and the feature's
    id (unique in a scenario), so that only the same feature of the same file is the
    same request (another file reusing an id is filed as its own)."""
    of_feature = hashlib.sha256(feature_id.encode()).hexdigest()[:32]
    return f"tansiq-load-{of_file}-{of_feature}"


def _key_after(key: str, cancelled_filing: str) -> str:
    """The key a feature is filed again under once the filing its key made is cancelled."""
    chained = hashlib.sha256(f"{key}\n{cancelled_filing}".encode()).hexdigest()[:32]
    return f"tansiq-load-again-{chained}"


def _check_categories_and_zones(features: list[dict[str, Any]]) -> None:
    """What the server would refuse of the features and scenario-v1 does not check: a
    category other than operation, site or zone (a typo was filed as an operation), and
    a zone's rules (the server refused the zone after the features before it were
    filed). Found by a reviewer."""
    problems = [
        f"feature {feature.get('id')!r}: properties.category: must be one of"
        f" {', '.join(CATEGORIES)}, got {category!r}"
        for feature in features
        if not isinstance(
            category := feature.get("properties", {}).get("category", "operation"), str
        )
        or category not in CATEGORIES
    ]
    if problems:
        raise InputProblems(problems)
    check_zone_rules([f for f in features if f.get("properties", {}).get("category") == "zone"])


def _require_own_token(client: httpx.Client, party: str, token: str) -> None:
    """The token is valid and is ``party``'s, or nothing is filed."""
    answer = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    _require(answer, f"the token of party {party!r}")
    try:
        me = answer.json()
        whose = me.get("id") if isinstance(me, dict) else None
    except ValueError:
        whose = None
    if not isinstance(whose, str):
        # a captive portal's or a proxy's page, say (a traceback; a reviewer)
        kind = answer.headers.get("content-type", "no content type")
        raise click.ClickException(
            f"{client.base_url} is not a Tansiq server: GET /v1/me answered"
            f" {answer.status_code} ({kind}) without a party; nothing was filed"
        )
    if whose != party:
        raise click.ClickException(
            f"the token given for party {party!r} is party {whose!r}'s; nothing was filed"
        )


def _without_tokens(message: str, tokens: Iterable[str]) -> str:
    """``message`` with every token's secret hidden (an error may quote a header)."""
    for token in tokens:
        message = message.replace(token, "tsq_…")
    return message


def _detail(answer: httpx.Response) -> str:
    try:
        return f"{answer.status_code} {answer.json().get('detail', answer.text)}"
    except ValueError:
        return f"{answer.status_code} {answer.text[:200]}"


def _require(answer: httpx.Response, what: str) -> None:
    if answer.status_code >= 300:
        raise click.ClickException(f"{what}: {_detail(answer)}; nothing was filed")
