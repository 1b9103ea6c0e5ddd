"""Stage 5 (policy) and the routing half of stage 7: decide for one exchange, then act on it.

Only this module turns a :class:`Decision` into consequences for the request: a block is an
error in the client's format, ``route_local`` re-routes to the local destination or refuses (503),
never falling back to the destination the client asked for.  A conversation that went local is
remembered (:mod:`gateway.local.sticky`), and its later turns are decided as local again.
"""

from __future__ import annotations

from gateway.endpoints import Destination, DestinationTable
from gateway.errors import BadRequest, LocalUnavailable, PolicyBlocked, ScanFailed
from gateway.exchange import Exchange
from gateway.local.sticky import StickyStore
from gateway.policy.classes import TOKEN_IDS
from gateway.policy.compile import Policy, Target
from gateway.policy.decide import Decision, Facts, decide
from gateway.transform.conversation import HEADER, conversation_key


def target(dest: Destination) -> Target:
    return Target(dest.name, dest.settings.type, dest.jurisdiction)


async def decide_exchange(
    ex: Exchange, policy: Policy, destinations: DestinationTable, sticky: StickyStore | None
) -> Decision:
    assert ex.principal is not None and ex.route is not None and ex.endpoint is not None
    local = destinations.local()
    stuck = False
    if sticky is not None and local is not None and ex.route.destination.settings.type != "local":
        assert ex.body is not None
        ex.conversation = conversation_key(ex.principal, ex.endpoint.name, ex.body, ex.headers.get(HEADER))
        stuck = await sticky.is_local(ex.conversation)
    facts = Facts(
        principal=ex.principal,
        destination=target(ex.route.destination),
        model=ex.model or "",
        endpoint=ex.endpoint.name,
        findings=ex.scan.findings if ex.scan is not None else (),
        sticky_local=stuck,
    )
    return decide(policy, facts, local=target(local) if local is not None else None)


def policy_headers(decision: Decision | None) -> dict[str, str]:
    """What the client may know about the decision: the version, the action, and why it went local.
    Rule ids are names the policy's authors chose; they never hold request content."""
    if decision is None:
        return {}
    headers = {"x-gateway-policy-version": decision.policy_version, "x-gateway-action": decision.action}
    if decision.local:
        headers["x-gateway-route"] = f"local; reason={decision.reason or 'policy'}"
    return headers


async def enforce(
    ex: Exchange, decision: Decision, destinations: DestinationTable, sticky: StickyStore | None
) -> None:
    assert ex.endpoint is not None and ex.model is not None
    if decision.action == "block":
        message = f"{decision.message} Request id: {ex.request_id}."
        if ex.scan is not None and ex.scan.failed:
            raise ScanFailed(message)  # 503: the gateway's failure, worth a retry
        raise PolicyBlocked(message)
    _check_token_ids(ex, decision)
    if decision.local:
        local = destinations.local()
        if local is None:
            raise LocalUnavailable(
                "The data policy keeps this request on the company's local model, and no local model is "
                f"configured, so it was not sent anywhere. Request id: {ex.request_id}."
            )
        ex.route = destinations.route_to(local, ex.endpoint, ex.model)
        if sticky is not None and ex.conversation is not None:
            # Before anything is sent: a turn that went local must never be followed by one that did not.
            await sticky.keep_local(ex.conversation)


def _check_token_ids(ex: Exchange, decision: Decision) -> None:
    """A prompt given as token ids cannot be read, so it goes nowhere unless an enforced ``allow`` rule
    names the ``token_ids`` class for this request, and never to the local model in place of the one the
    ids were made for (its tokenizer differs: it would answer nonsense, silently)."""
    if ex.scan is None:
        return
    paths = [u.path for u in ex.scan.extracted.unscannable if u.media.upper() == TOKEN_IDS]
    if not paths:
        return
    allowed = any(f.action == "allow" and "token_ids" in f.classes for f in decision.fired)
    if allowed and not decision.local:
        return
    where = ".".join(str(p) for p in paths[0])
    why = (
        "the data policy sends this request to the local model, whose tokenizer differs"
        if allowed
        else "no policy rule allows token ids for this destination"
    )
    raise BadRequest(
        f"'{where}' is given as token ids, which the gateway cannot inspect, and {why}. Send the prompt "
        f"as text. Request id: {ex.request_id}.",
        param=where,
        code="unscannable_input",
    )
