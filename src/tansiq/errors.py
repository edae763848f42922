"""Tansiq's one error hierarchy.

Every error a user can cause is a :class:`TansiqError`. Each class carries the
CLI exit status and the HTTP status it maps to, so each edge (CLI, API) has a
single handler that renders any of them without a traceback::

    TansiqError                  exit 1, HTTP 500
    ├── InputError               exit 2, HTTP 400   the caller sent something wrong
    │   ├── ScenarioInvalid      exit 2, HTTP 422   a scenario breaks the spec (all problems listed)
    │   ├── RuleBeyondLimits     exit 2, HTTP 422   a theater rule beyond the limits
    │   ├── KeyReused            exit 2, HTTP 422   an Idempotency-Key sent with another request
    │   ├── ScenarioUnreadable   exit 2, HTTP 400   the file cannot be read at all
    │   ├── DuplicateVolume      exit 2, HTTP 409   a volume id the index already holds
    │   ├── PartyExists          exit 2, HTTP 409   a party id that is taken
    │   └── UnknownToken         exit 2, HTTP 404   a token id that is not a live token of the party
    ├── UnknownVolume            exit 1, HTTP 404   an id that the index does not hold
    ├── UnknownParty             exit 1, HTTP 404   a party id that the store does not hold
    ├── UnknownFiling            exit 1, HTTP 404   a filing that is missing or another party's
    ├── UnknownConflict          exit 1, HTTP 404   a conflict the caller is not a side of
    ├── StaleVersion             exit 1, HTTP 412   a change based on an outdated version
    │   └── StaleConflict        exit 1, HTTP 412   an acknowledgement of a conflict that changed
    ├── FilingGone               exit 1, HTTP 409   a change to a cancelled filing
    │   └── KeyedFilingCancelled exit 1, HTTP 409   a key sent again whose filing is cancelled
    ├── Unauthorized             exit 1, HTTP 401   a missing, unknown or revoked API token
    ├── Forbidden                exit 1, HTTP 403   a party doing what only a coordinator may
    ├── TheaterBusy              exit 1, HTTP 503   a change of rules holds the theater: send again
    ├── TooManyStreams           exit 1, HTTP 429   a party's streams that gave way have not ended
    ├── OutputLost               exit 1             a command's output (a new token) not written
    └── StoreUnusable            exit 1, HTTP 500   the store's file cannot be opened or used
"""

from __future__ import annotations

from collections.abc import Sequence


class TansiqError(Exception):
    """Base of every error Tansiq raises on purpose."""

    #: what went wrong, in a few words (a problem's ``title``: the message is its ``detail``)
    title: str = "Tansiq refused the request"

    exit_code: int = 1
    http_status: int = 500

    @property
    def http_headers(self) -> dict[str, str]:
        """Headers the HTTP answer carries (``Retry-After``, say); none by default."""
        return {}

    @property
    def problem_members(self) -> dict[str, str]:
        """Members a problem's JSON carries besides RFC 9457's (the caller's own ids)."""
        return {}

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its class, message and attributes, so that one raised in another
        process (a ``multiprocessing`` pool running :func:`tansiq.detect` or reading
        scenarios, say) is raised again, the same, in the caller's. Exception's own
        way calls the class with the message alone, which most of these classes'
        ``__init__`` do not take: 9 of 28 failed to unpickle, and 15 came back
        with a wrong message, theirs taken for their first argument (seen while
        trying the theater in a process of its own, docs/benchmarks.md)."""
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(
    kind: type[TansiqError], args: tuple[object, ...], attributes: dict[str, object]
) -> TansiqError:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    error.__dict__.update(attributes)
    return error


class InputError(TansiqError):
    """The caller gave input that cannot be used."""

    title = "The input cannot be used"

    exit_code = 2
    http_status = 400


class ScenarioUnreadable(InputError):
    """The scenario file could not be opened or is not JSON."""

    title = "The input is not readable JSON"


class InputProblems(InputError):
    """Input with problems at named places; ``problems`` lists them, one line each."""

    title = "The input cannot be used"

    def __init__(
        self, problems: Sequence[str], places: Sequence[tuple[str, str]] | None = None
    ) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        #: (feature, member) of each problem: ``("feature 'x'", "properties.start")``,
        #: ``""`` where it is the whole document or feature (empty if not known)
        self.places: tuple[tuple[str, str], ...] = tuple(places or ())
        super().__init__("; ".join(self.problems))


class RuleBeyondLimits(InputProblems):
    """A separation rule larger than the service accepts (the scenario format sets no
    upper bound; a theater's rules judge every stored pair again)."""

    title = "A separation is beyond the service's limits"

    http_status = 422


class KeyReused(InputError):
    """An ``Idempotency-Key`` the party already sent with another request: a key names
    one request, so this one is neither filed nor answered as the first was."""

    title = "The Idempotency-Key was used for another request"

    http_status = 422

    def __init__(self, key: str) -> None:
        self.key = key
        shown = key if len(key) <= 40 else key[:40] + "..."
        super().__init__(
            f"Idempotency-Key: {shown!r} was sent before with another request (another"
            " body or category); send a new key for a new filing"
        )


class ScenarioInvalid(InputProblems):
    """A scenario breaks ``scenario-v1``; ``problems`` lists every broken rule, one line each."""

    title = "The input breaks scenario-v1"

    http_status = 422

    def __init__(
        self, problems: Sequence[str], places: Sequence[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(problems, places)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        self.args = (f"scenario refused, {count} {noun}:\n" + "\n".join(self.problems),)


class UnknownVolume(TansiqError):
    """An operation named a volume id that is not stored."""

    title = "No such volume"

    exit_code = 1
    http_status = 404

    def __init__(self, volume_id: str) -> None:
        self.volume_id = volume_id
        super().__init__(f"no volume with id {volume_id!r}")


class DuplicateVolume(InputError):
    """A volume id is already stored."""

    title = "The volume id is taken"

    http_status = 409

    def __init__(self, volume_id: str) -> None:
        self.volume_id = volume_id
        super().__init__(f"a volume with id {volume_id!r} is already stored")


class PartyExists(InputError):
    """A party id is already taken."""

    title = "The party id is taken"

    http_status = 409

    def __init__(self, party_id: str) -> None:
        self.party_id = party_id
        super().__init__(f"a party with id {party_id!r} already exists")


class UnknownToken(InputError):
    """A token id that is not a live token of the party (missing, revoked, or another's)."""

    title = "No such live token"

    http_status = 404

    def __init__(self, party_id: str, token_id: str) -> None:
        self.party_id = party_id
        self.token_id = token_id
        super().__init__(f"token: party {party_id!r} has no live token {token_id!r}")


class UnknownParty(TansiqError):
    """A party id that the store does not hold."""

    title = "No such party"

    http_status = 404

    def __init__(self, party_id: str) -> None:
        self.party_id = party_id
        super().__init__(f"no party with id {party_id!r}")


class Unauthorized(TansiqError):
    """A request without a valid API token.

    The message never says which part was wrong (missing, malformed, unknown, revoked).
    """

    title = "Missing, unknown or revoked API token"

    http_status = 401

    def __init__(self) -> None:
        super().__init__("missing, unknown or revoked API token")


class StoreUnusable(TansiqError):
    """The store's file cannot be opened, is not a Tansiq store, or is from a newer version."""

    title = "The store cannot be used"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot use the store {path!r}: {reason}")


class StoreInUse(TansiqError):
    """Another theater (another ``tansiq serve``, most likely) has the store open."""

    title = "The store is in use"

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"the store {path!r} is already served by another process (its theater holds"
            f" {path}-serving): stop that server first; one server per store file"
        )


class OutputLost(TansiqError):
    """What a command had to show (a new token, shown once) could not be written: it
    was not made."""

    title = "The output could not be written"

    def __init__(self, cause: OSError) -> None:
        super().__init__(
            f"cannot write to standard output ({cause.strerror or cause}): nothing was made"
        )


class UnknownFiling(TansiqError):
    """A filing id the caller may not see: missing, or another party's (the same answer)."""

    title = "No such filing"

    http_status = 404

    def __init__(self, filing_id: str) -> None:
        self.filing_id = filing_id
        super().__init__(f"no filing with id {filing_id!r}")


class StaleVersion(TansiqError):
    """A change was based on a version of a filing that is no longer the latest."""

    title = "Not the latest version"

    http_status = 412

    def __init__(self, filing_id: str, expected: int, current: int) -> None:
        self.filing_id = filing_id
        self.current = current
        super().__init__(
            f"filing {filing_id!r} is at version {current}, not {expected}: read it again"
        )


class StaleConflict(StaleVersion):
    """An acknowledgement naming a version of a conflict that is no longer the latest:
    the party would be recorded as having seen what it has not."""

    title = "The conflict has changed"

    def __init__(self, conflict_id: int, expected: int, current: int) -> None:
        self.conflict_id = conflict_id
        self.expected = expected
        self.current = current
        TansiqError.__init__(
            self,
            f"conflict {conflict_id} is at version {current}, not {expected}:"
            " read it again before acknowledging it",
        )


class FilingGone(TansiqError):
    """A change to a filing that has been cancelled."""

    title = "The filing is cancelled"

    http_status = 409

    def __init__(self, filing_id: str) -> None:
        self.filing_id = filing_id
        super().__init__(f"filing {filing_id!r} is cancelled; file a new one")


class KeyedFilingCancelled(FilingGone):
    """A new filing sent again with its ``Idempotency-Key`` after the filing the key
    made was cancelled: it is not filed again (a late retry must not bring back what
    its party withdrew), and not answered as standing."""

    title = "The filing this Idempotency-Key made is cancelled"

    def __init__(self, key: str, filing_id: str) -> None:
        self.filing_id = filing_id
        shown = key if len(key) <= 40 else key[:40] + "..."
        TansiqError.__init__(
            self,
            f"Idempotency-Key: {shown!r} made filing {filing_id!r}, since cancelled; a new"
            " filing needs a new key",
        )

    @property
    def problem_members(self) -> dict[str, str]:
        return {"filing": self.filing_id}  # the caller's own: it may read its history


class UnknownConflict(TansiqError):
    """A conflict id the caller is not a side of, or that does not exist (the same answer)."""

    title = "No such conflict"

    http_status = 404

    def __init__(self, conflict_id: int) -> None:
        self.conflict_id = conflict_id
        super().__init__(f"no conflict with id {conflict_id}")


class TheaterBusy(TansiqError):
    """A change waited for the theater while a long change (new separation rules,
    judging again every pair of the kinds they touch) held it, and gave up: nothing
    was done, and the caller is told so at once rather than left waiting for minutes
    without knowing whether its filing was made."""

    title = "The theater is busy"

    http_status = 503

    def __init__(self, what: str, for_s: float, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"{what} has held the theater for {for_s:.0f} s; nothing was done: send the"
            f" request again in about {retry_after_s} s (a new filing with the same"
            " Idempotency-Key is never filed twice)"
        )

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class TooManyStreams(TansiqError):
    """A party asked for an event stream while as many of its streams as a party may
    hold are still open: its live ones, and those that gave way to newer ones but have
    not ended, stuck in a write to a client that does not read. Each of those holds a
    socket, a task and the batch it writes (some 10 MB with a backlog) until the kernel
    drops its connection; without this bound one token could open them without end (a
    reviewer: 80 unread streams, 1 GB of the server's memory)."""

    title = "Too many open event streams"

    http_status = 429

    #: when to ask again, seconds: a stream stuck in a write is dropped by the kernel
    #: within the server's TCP user timeout (``tansiq.cli.serve.UNACKNOWLEDGED_LIMIT_S``,
    #: 60 s) after its last progress
    RETRY_AFTER_S = 75

    def __init__(self, held: int) -> None:
        super().__init__(
            f"your party holds {held} event streams that have not ended, as many as a"
            " party may: streams that gave way to newer ones are still stuck writing to"
            " clients that do not read them; close those connections, or ask again in"
            f" about {self.RETRY_AFTER_S} s, when the server has dropped them"
        )

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_S)}


class Forbidden(TansiqError):
    """The caller's role may not do this (a coordinator's work: parties, theater rules)."""

    title = "Only a coordinator may do this"

    http_status = 403

    def __init__(self, what: str) -> None:
        super().__init__(f"only a coordinator may {what}")
