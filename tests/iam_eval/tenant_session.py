"""A tenant administrator's session with zae-limiter 0.17.0, for the IAM policy simulation.

Usage: tenant_session.py STACK NAMESPACE [forge OTHER_NAMESPACE]
       (AWS_ENDPOINT_URL etc. point at the emulator)

Connects to NAMESPACE the way a namespace-scoped principal does (`Repository.connect`: reads
only, never registers anything; `Repository.open` of the registered namespace is tried too) and
calls everything the package's public API lets such a
client do in its own namespace: system, resource and entity limits (set, get, list, delete),
entities with parent/child and cascade, acquire (stored and explicit limits, several limits,
several resources, cascade to the parent, rejection and rollback), lease consume/adjust/release,
availability, capacity, flags (disable, bypass, cascade), bucket reset and top-up, parent moves,
soft and reset_after limits, audit events, usage snapshots, provisioner state.

With `forge`, the session instead tries what a tenant administrator must not do: rewrite the
version record, register a namespace, soft-delete another tenant's namespace.

Every DynamoDB request carries the header `X-Zae-Step: <step>` (a botocore `before-send`
hook), so the recording names the step each call belongs to. Prints one JSON line:
`{"namespace_id": ..., "steps": [{"step", "ok", "error"?}, ...]}`.
"""

import asyncio
import contextvars
import json
import sys
from datetime import timedelta

import zae_limiter.repository as zae_repository
from zae_limiter import Limit, OnUnavailable, RateLimiter, Repository
from zae_limiter.exceptions import RateLimitExceeded

STEP = contextvars.ContextVar("step", default="(no step)")


def tag_step(request, **_kwargs):
    request.headers["X-Zae-Step"] = STEP.get()


_get_session = zae_repository.get_session


def tagged_session():
    session = _get_session()
    session.register("before-send.dynamodb", tag_step)
    return session


zae_repository.get_session = tagged_session


async def main(stack, namespace, forge_other=None):
    steps = []

    async def step(name, action):
        token = STEP.set(name)
        try:
            value = await action()
            steps.append({"step": name, "ok": True})
            return value
        except Exception as error:  # reported, the test fails on it
            steps.append({"step": name, "ok": False, "error": f"{type(error).__name__}: {error}"})
            return None
        finally:
            STEP.reset(token)

    token = STEP.set("connect")
    repo = await Repository.connect(namespace, stack=stack)
    STEP.reset(token)
    limiter = RateLimiter(repository=repo)

    if forge_other is not None:
        await step(
            "forge: set_version_record",
            lambda: repo.set_version_record(
                schema_version="0.10.0", lambda_version="9.0.0", client_min_version="9.0.0", updated_by="tenant"
            ),
        )
        await step("forge: register_namespace", lambda: repo.register_namespace("squatter"))
        await step("forge: delete_namespace(other tenant)", lambda: repo.delete_namespace(forge_other))
        await repo.close()
        return {"namespace_id": repo.namespace_id, "steps": steps}

    async def open_existing():
        opened = await Repository.open(namespace, stack=stack)
        await opened.close()

    await step("open (registered namespace, current version record)", open_existing)
    await step("get_namespace", lambda: repo.get_namespace(namespace))
    await step("list_namespaces", repo.list_namespaces)

    # Namespace-level (system) limits.
    await step(
        "set_system_defaults",
        lambda: limiter.set_system_defaults([Limit.per_minute("rpm", 1000)], on_unavailable=OnUnavailable.BLOCK),
    )
    await step("get_system_defaults", limiter.get_system_defaults)
    await step("get_system_limits", repo.get_system_limits)

    # Resource-level limits.
    await step(
        "set_resource_defaults",
        lambda: limiter.set_resource_defaults(
            "gpt-4", [Limit.per_minute("rpm", 500), Limit.per_minute("tpm", 100_000)]
        ),
    )
    await step("get_resource_defaults", lambda: limiter.get_resource_defaults("gpt-4"))
    await step("list_resources_with_defaults", limiter.list_resources_with_defaults)

    # Entities, parent and children.
    await step(
        "create_entity(parent)",
        lambda: limiter.create_entity("org-1", name="Org One", metadata={"tier": "gold"}),
    )
    await step("create_entity(child, cascade)", lambda: limiter.create_entity("key-1", parent_id="org-1", cascade=True))
    await step("create_entity(child)", lambda: limiter.create_entity("key-2", parent_id="org-1"))
    await step("create_entity(standalone)", lambda: repo.create_entity("key-3"))
    await step("get_entity", lambda: limiter.get_entity("key-1"))
    await step("get_children", lambda: limiter.get_children("org-1"))

    # Entity-level limits.
    await step(
        "set_limits(entity, resource)",
        lambda: limiter.set_limits(
            "key-1", [Limit.per_minute("rpm", 100), Limit.per_minute("tpm", 10_000)], resource="gpt-4"
        ),
    )
    await step(
        "set_limits(parent, resource)",
        lambda: limiter.set_limits(
            "org-1", [Limit.per_minute("rpm", 300), Limit.per_minute("tpm", 50_000)], resource="gpt-4"
        ),
    )
    await step(
        "set_limits(entity default)",
        lambda: limiter.set_limits("key-2", [Limit.per_hour("rph", 600, burst=700)]),
    )
    await step("get_limits", lambda: limiter.get_limits("key-1", resource="gpt-4"))
    await step("list_entities_with_custom_limits", lambda: limiter.list_entities_with_custom_limits("gpt-4"))
    await step("list_resources_with_entity_configs", limiter.list_resources_with_entity_configs)

    # Acquire.
    async def acquire_stored_cascade():
        async with limiter.acquire("key-1", "gpt-4", consume={"rpm": 1, "tpm": 500}) as lease:
            await lease.adjust(tpm=250)
            await lease.consume(rpm=1)

    await step("acquire(stored limits, cascade) + adjust + consume", acquire_stored_cascade)
    await step("acquire(stored limits, cascade) again (fast path)", acquire_stored_cascade)

    async def acquire_explicit():
        limits = [Limit.per_minute("rpm", 50), Limit.per_minute("tpm", 5_000), Limit.per_hour("rph", 900)]
        async with limiter.acquire(
            "key-3", "embeddings", consume={"rpm": 1, "tpm": 100, "rph": 1}, limits=limits
        ) as lease:
            await lease.release(tpm=40)

    await step("acquire(explicit limits) + release", acquire_explicit)

    async def acquire_multi_resource():
        async with limiter.acquire("key-2", "gpt-4", consume={"rph": 1}, also={"claude": {"rph": 2}}) as lease:
            await lease.resource("claude").adjust(rph=1)

    await step("acquire(several resources)", acquire_multi_resource)

    async def acquire_rejected():
        try:
            async with limiter.acquire("key-1", "gpt-4", consume={"rpm": 1, "tpm": 1_000_000}):
                raise AssertionError("acquire should have been rejected")
        except RateLimitExceeded:
            return "rejected"

    await step("acquire(rejected, rolled back)", acquire_rejected)

    async def acquire_failing_body():
        try:
            async with limiter.acquire("key-1", "gpt-4", consume={"rpm": 1, "tpm": 10}):
                raise KeyError("application failure")
        except KeyError:
            return "rolled back"

    await step("acquire(body raises, rollback)", acquire_failing_body)

    await step("check_availability", lambda: limiter.check_availability("key-1", "gpt-4", needed={"tpm": 100}))
    await step("available", lambda: limiter.available("key-1", "gpt-4"))
    await step("time_until_available", lambda: limiter.time_until_available("key-1", "gpt-4", needed={"tpm": 100}))
    await step("get_resource_capacity", lambda: limiter.get_resource_capacity("gpt-4", "tpm"))
    await step("get_resource_capacity(parents)", lambda: limiter.get_resource_capacity("gpt-4", "tpm", True))
    await step("get_buckets", lambda: repo.get_buckets("key-1"))
    await step("get_resource_buckets", lambda: repo.get_resource_buckets("gpt-4"))
    await step("is_available", limiter.is_available)

    # Flags.
    await step("disable_entity", lambda: repo.disable_entity("key-2", resource="gpt-4"))
    await step("enable_entity", lambda: repo.enable_entity("key-2", resource="gpt-4"))
    await step("clear_entity_disabled", lambda: repo.clear_entity_disabled("key-2", resource="gpt-4"))
    await step("bypass_entity", lambda: repo.bypass_entity("key-2", resource="gpt-4"))
    await step("clear_entity_disabled(bypass)", lambda: repo.clear_entity_disabled("key-2", resource="gpt-4"))
    await step("set_entity_cascade", lambda: repo.set_entity_cascade("key-2", True, resource="gpt-4"))
    await step("clear_entity_cascade", lambda: repo.clear_entity_cascade("key-2", resource="gpt-4"))
    await step("disable_resource", lambda: repo.disable_resource("gpt-4"))
    await step("clear_resource_disabled", lambda: repo.clear_resource_disabled("gpt-4"))
    await step("bypass_resource", lambda: repo.bypass_resource("embeddings"))
    await step("clear_resource_disabled(bypass)", lambda: repo.clear_resource_disabled("embeddings"))
    await step("set_resource_cascade", lambda: repo.set_resource_cascade("gpt-4", False))
    await step("clear_resource_cascade", lambda: repo.clear_resource_cascade("gpt-4"))

    # Bucket operations, moves, soft and session limits.
    await step("reset_bucket", lambda: repo.reset_bucket("key-1", "gpt-4"))
    await step("top_up", lambda: repo.top_up("key-1", "gpt-4", {"rpm": 5}))
    await step("set_parent(move)", lambda: repo.set_parent("key-3", "org-1"))
    await step("set_parent(detach)", lambda: repo.set_parent("key-3", None))
    await step(
        "set_limits(soft)",
        lambda: limiter.set_limits("key-3", [Limit.per_minute("rpm", 5, soft=True)], resource="gpt-4"),
    )
    await step(
        "set_limits(reset_after quota)",
        lambda: limiter.set_limits(
            "key-3", [Limit.quota("session", 100, reset_after=timedelta(hours=5))], resource="claude"
        ),
    )

    async def acquire_quota():
        async with limiter.acquire("key-3", "claude", consume={"session": 3}):
            pass

    await step("acquire(reset_after quota)", acquire_quota)

    # Audit, usage, provisioner state.
    await step("get_audit_events(entity)", lambda: limiter.get_audit_events("key-1"))
    await step("get_audit_events(system)", lambda: limiter.get_audit_events("$SYSTEM"))
    await step("get_usage_snapshots(entity)", lambda: limiter.get_usage_snapshots(entity_id="key-1"))
    await step("get_usage_snapshots(resource)", lambda: limiter.get_usage_snapshots(resource="gpt-4"))
    await step("get_usage_summary", lambda: limiter.get_usage_summary(entity_id="key-1", resource="gpt-4"))
    await step("get_provisioner_state", repo.get_provisioner_state)

    # Clean-up: every delete a tenant administrator has.
    await step("delete_limits", lambda: limiter.delete_limits("key-1", resource="gpt-4"))
    await step("delete_entity(child)", lambda: limiter.delete_entity("key-2"))
    await step("delete_entity(with buckets)", lambda: limiter.delete_entity("key-1"))
    await step("delete_resource_defaults", lambda: limiter.delete_resource_defaults("gpt-4"))
    await step("delete_system_defaults", limiter.delete_system_defaults)

    await repo.close()
    return {"namespace_id": repo.namespace_id, "steps": steps}


if __name__ == "__main__":
    other = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "forge" else None
    result = asyncio.run(main(sys.argv[1], sys.argv[2], other))
    print(json.dumps(result))
