"""The local Discord refuses what real Discord refuses, and accepts the compliant form.

Raw HTTP against a started stand-in, with a bare Gateway connection that identifies so
interactions can be dispatched; no bot. Time-based rules move the stand-in's clock
instead of sleeping.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import time

import aiohttp
import discord
import pytest

from tests.discord_rules import TOKEN_LIFETIME_S
from tests.local_discord import APPLICATION_ID, Conversation, LocalDiscord

MIB = 1024 * 1024


def with_stand_in(**options):
    """Run the async test body with a started stand-in (`options` go to LocalDiscord)
    that a bare Gateway client has identified with, and an HTTP session."""

    def decorate(body):
        @functools.wraps(body)
        def test(*args, **kwargs):
            async def main() -> None:
                server = LocalDiscord(**options)
                await server.start()
                try:
                    async with (
                        aiohttp.ClientSession() as session,
                        session.ws_connect(server.gateway_url) as ws,
                    ):
                        await ws.send_json({"op": 2, "d": {"token": "raw client"}})
                        await asyncio.wait_for(server.ready.wait(), 5)
                        await body(server, session, *args, **kwargs)
                finally:
                    await server.stop()

            asyncio.run(main())

        parameters = list(inspect.signature(body).parameters.values())[2:]
        test.__signature__ = inspect.Signature(parameters)  # what pytest should inject
        return test

    return decorate


class Raw:
    """One interaction, answered by hand: each call returns (status, body, headers)."""

    def __init__(self, server: LocalDiscord, session: aiohttp.ClientSession, c: Conversation):
        self.server, self.session, self.conversation = server, session, c
        self.webhook = f"{server.api_base}/webhooks/{APPLICATION_ID}/{c.token}"

    @classmethod
    async def start(cls, server, session, **options) -> Raw:
        return cls(server, session, await server.run("color", wait=False, **options))

    async def request(self, method: str, url: str, **kwargs) -> tuple[int, dict, dict]:
        async with self.session.request(method, url, **kwargs) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else {}, dict(response.headers)

    async def callback(self, payload: dict) -> tuple[int, dict, dict]:
        c = self.conversation
        url = f"{self.server.api_base}/interactions/{c.interaction_id}/{c.token}/callback"
        return await self.request("POST", url, json=payload)

    async def defer(self) -> None:
        status, body, _ = await self.callback({"type": 5})
        assert status == 200, body

    async def followup(self, payload: dict) -> tuple[int, dict, dict]:
        return await self.request("POST", self.webhook, json=payload)

    async def edit(self, payload: dict) -> tuple[int, dict, dict]:
        return await self.request("PATCH", f"{self.webhook}/messages/@original", json=payload)

    async def upload(self, files: dict[str, bytes]) -> tuple[int, dict, dict]:
        form = aiohttp.FormData()
        attachments = [{"id": i, "filename": name} for i, name in enumerate(files)]
        form.add_field("payload_json", json.dumps({"content": "files", "attachments": attachments}))
        for i, (name, data) in enumerate(files.items()):
            form.add_field(f"files[{i}]", data, filename=name)
        return await self.request("POST", self.webhook, data=form)


def refused(server: LocalDiscord, answer, status: int, code: int, rule: str, field: str = ""):
    """Assert Discord's status and code, and that the stand-in recorded exactly this one
    violation (then forget it, so the next step starts clean)."""
    got_status, body, _ = answer
    assert (got_status, body.get("code")) == (status, code), body
    ((violation,),) = [server.violations]
    assert (violation.rule, violation.field) == (rule, field), violation
    server.violations.clear()
    return body


def accepted(server: LocalDiscord, answer) -> dict:
    status, body, _ = answer
    assert status in (200, 204) and not server.violations, (body, server.violations)
    return body


@with_stand_in()
async def test_content_over_2000_characters_is_refused_naming_content(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    answer = await raw.followup({"content": "x" * 2001})
    body = refused(server, answer, 400, 50035, "schema", "content")
    assert body["message"] == "Invalid Form Body"
    (error,) = body["errors"]["content"]["_errors"]
    assert error == {
        "code": "BASE_TYPE_MAX_LENGTH",
        "message": "content: Must be 2000 or fewer in length.",
    }
    accepted(server, await raw.followup({"content": "x" * 2000}))


@with_stand_in()
async def test_callback_body_is_checked_through_the_union_of_callback_types(server, session):
    raw = await Raw.start(server, session)
    answer = await raw.callback({"type": 4, "data": {"content": "x" * 2001}})
    refused(server, answer, 400, 50035, "schema", "data.content")
    refused(server, await raw.callback({"type": 99}), 400, 50035, "schema", "type")
    accepted(server, await raw.callback({"type": 4, "data": {"content": "x" * 2000}}))


@with_stand_in()
async def test_a_second_initial_response_is_refused(server, session):
    raw = await Raw.start(server, session)
    accepted(server, await raw.callback({"type": 5}))
    answer = await raw.callback({"type": 4, "data": {"content": "again"}})
    body = refused(server, answer, 400, 40060, "acknowledged")
    assert body["message"] == "Interaction has already been acknowledged."


@with_stand_in()
async def test_a_response_after_three_seconds_is_refused(server, session):
    late, on_time = await Raw.start(server, session), await Raw.start(server, session)
    accepted(server, await on_time.callback({"type": 5}))
    server.clock.advance(3.1)
    body = refused(server, await late.callback({"type": 5}), 404, 10062, "response_window")
    assert body["message"] == "Unknown interaction"


@with_stand_in()
async def test_a_callback_for_an_interaction_never_sent_is_refused(server, session):
    raw = await Raw.start(server, session)
    url = f"{server.api_base}/interactions/1234/{raw.conversation.token}/callback"
    answer = await raw.request("POST", url, json={"type": 5})
    refused(server, answer, 404, 10062, "unknown_interaction")


@with_stand_in()
async def test_an_edit_with_a_token_never_issued_is_refused(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    unknown = f"{server.api_base}/webhooks/{APPLICATION_ID}/token-made-up/messages/@original"
    answer = await raw.request("PATCH", unknown, json={"content": "hi"})
    body = refused(server, answer, 404, 10015, "unknown_token")
    assert body["message"] == "Unknown Webhook"
    other_app = f"{server.api_base}/webhooks/1/{raw.conversation.token}"
    refused(
        server,
        await raw.request("POST", other_app, json={"content": "hi"}),
        404,
        10015,
        "unknown_token",
    )
    accepted(server, await raw.edit({"content": "hi"}))


@with_stand_in()
async def test_a_token_older_than_fifteen_minutes_is_refused(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    server.clock.advance(TOKEN_LIFETIME_S - 1)
    accepted(server, await raw.edit({"content": "still in time"}))
    server.clock.advance(2)
    body = refused(server, await raw.edit({"content": "too late"}), 401, 50027, "token_expired")
    assert body["message"] == "Invalid Webhook Token"


@with_stand_in()
async def test_a_gone_conversation_answers_unknown_webhook(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    raw.conversation.gone = True
    refused(server, await raw.edit({"content": "hi"}), 404, 10015, "gone")


def field(name: str = "n", value: str = "v") -> dict:
    return {"name": name, "value": value}


EMBED_LIMITS = [  # (the field the error names, over the limit by one, at the limit)
    ("embeds.0.title", {"title": "t" * 257}, {"title": "t" * 256}),
    ("embeds.0.description", {"description": "d" * 4097}, {"description": "d" * 4096}),
    ("embeds.0.fields", {"fields": [field()] * 26}, {"fields": [field()] * 25}),
    ("embeds.0.fields.0.name", {"fields": [field("n" * 257)]}, {"fields": [field("n" * 256)]}),
    (
        "embeds.0.fields.0.value",
        {"fields": [field(value="v" * 1025)]},
        {"fields": [field(value="v" * 1024)]},
    ),
    ("embeds.0.footer.text", {"footer": {"text": "f" * 2049}}, {"footer": {"text": "f" * 2048}}),
    ("embeds.0.author.name", {"author": {"name": "a" * 257}}, {"author": {"name": "a" * 256}}),
]


@pytest.mark.parametrize(
    ("name", "over", "at_limit"), EMBED_LIMITS, ids=[n for n, *_ in EMBED_LIMITS]
)
@with_stand_in()
async def test_embed_limits_per_field(server, session, name, over, at_limit):
    raw = await Raw.start(server, session)
    await raw.defer()
    refused(server, await raw.followup({"embeds": [over]}), 400, 50035, "schema", name)
    accepted(server, await raw.followup({"embeds": [at_limit]}))


@with_stand_in()
async def test_at_most_ten_embeds(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    refused(
        server,
        await raw.followup({"embeds": [{"title": "e"}] * 11}),
        400,
        50035,
        "schema",
        "embeds",
    )
    accepted(server, await raw.followup({"embeds": [{"title": "e"}] * 10}))


@with_stand_in()
async def test_six_thousand_characters_across_embeds(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    over = {"title": "t" * 256, "description": "d" * 4096, "footer": {"text": "f" * 1649}}
    refused(server, await raw.followup({"embeds": [over]}), 400, 50035, "embed_total", "embeds")
    split = [{"description": "d" * 4000}, {"description": "d" * 2001}]  # each fine alone
    refused(server, await raw.followup({"embeds": split}), 400, 50035, "embed_total", "embeds")
    exact = {**over, "footer": {"text": "f" * 1648}}
    accepted(server, await raw.followup({"embeds": [exact]}))


@with_stand_in()
async def test_ten_files_and_ten_mebibytes_per_message(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    eleven = {f"f{i}.txt": b"x" for i in range(11)}
    refused(server, await raw.upload(eleven), 400, 50035, "file_count", "files")
    accepted(server, await raw.edit({"content": "ok"}))  # a refused upload posts nothing
    accepted(server, await raw.upload({f"f{i}.txt": b"x" for i in range(10)}))
    big = {"a.bin": b"\0" * (6 * MIB), "b.bin": b"\0" * (5 * MIB)}
    body = refused(server, await raw.upload(big), 413, 40005, "upload_size", "files")
    assert body["message"] == "Request entity too large"
    accepted(server, await raw.upload({"a.bin": b"\0" * (5 * MIB), "b.bin": b"\0" * (5 * MIB)}))


def button(custom_id: str = "b") -> dict:
    return {"type": 2, "style": 1, "label": "Go", "custom_id": custom_id}


@with_stand_in()
async def test_at_most_five_action_rows_of_five_buttons(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    rows = [{"type": 1, "components": [button(f"b{r}.{i}") for i in range(5)]} for r in range(6)]
    refused(
        server,
        await raw.followup({"content": "rows", "components": rows}),
        400,
        50035,
        "action_rows",
        "components",
    )
    wide = {"type": 1, "components": [button(f"b{i}") for i in range(6)]}
    answer = await raw.followup({"content": "wide", "components": [wide]})
    refused(server, answer, 400, 50035, "schema", "components.0.components")
    accepted(server, await raw.followup({"content": "fits", "components": rows[:5]}))


@with_stand_in()
async def test_custom_ids_are_unique_within_a_message(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    twice = {"type": 1, "components": [button("same"), button("same")]}
    answer = await raw.followup({"content": "ids", "components": [twice]})
    refused(server, answer, 400, 50035, "duplicate_custom_id", "components")


@with_stand_in()
async def test_custom_id_at_most_100_characters(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    long_row = {"type": 1, "components": [button("c" * 101)]}
    answer = await raw.followup({"content": "id", "components": [long_row]})
    refused(server, answer, 400, 50035, "schema", "components.0.components.0.custom_id")
    row = {"type": 1, "components": [button("c" * 100)]}
    accepted(server, await raw.followup({"content": "id", "components": [row]}))


@with_stand_in(token_rate_limit=(50, 2.0))
async def test_five_followups_when_the_app_is_only_user_installed(server, session):
    user = await Raw.start(server, session, user_installed=True)
    await user.defer()
    for i in range(5):
        accepted(server, await user.followup({"content": f"{i}"}))
    body = refused(server, await user.followup({"content": "sixth"}), 400, 40094, "followup_limit")
    assert "maximum number of follow up messages" in body["message"]
    guild = await Raw.start(server, session)
    await guild.defer()
    for i in range(6):
        accepted(server, await guild.followup({"content": f"{i}"}))


@with_stand_in(token_rate_limit=(5, 2.0))
async def test_a_burst_past_the_bucket_gets_429_with_discords_headers(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    for i in range(5):
        status, _, headers = await raw.edit({"content": f"{i}"})
        assert status == 200 and headers["X-RateLimit-Remaining"] == str(4 - i)
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Bucket"]
        assert 0 < float(headers["X-RateLimit-Reset-After"]) <= 2.0
        assert float(headers["X-RateLimit-Reset"]) > time.time()
    answer = await raw.edit({"content": "one too many"})
    _, body, headers = answer
    assert answer[0] == 429 and body["message"] == "You are being rate limited."
    assert 0 < body["retry_after"] <= 2.0 and body["global"] is False
    assert headers["Via"] == "1.1 google" and int(headers["Retry-After"]) >= 1
    assert headers["X-RateLimit-Remaining"] == "0"
    ((violation,),) = [server.violations]
    assert violation.rule == "rate_limit"
    server.violations.clear()
    other_route = await raw.followup({"content": "another bucket"})
    accepted(server, other_route)
    server.clock.advance(2.0)
    accepted(server, await raw.edit({"content": "after the reset"}))


@with_stand_in(token_rate_limit=(2, 0.5))
async def test_discord_py_waits_out_rate_limits_and_succeeds(server, session, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    raw = await Raw.start(server, session)
    await raw.defer()
    for i in range(2):  # someone else used up this token's follow-up bucket
        await raw.followup({"content": f"spent {i}"})
    webhook = discord.Webhook.partial(APPLICATION_ID, raw.conversation.token, session=session)
    started = time.monotonic()
    await webhook.send("after a 429", wait=True)  # 429, waits retry_after, retries
    ((violation,),) = [server.violations]
    assert violation.rule == "rate_limit" and time.monotonic() - started >= 0.3
    server.violations.clear()
    for i in range(3):  # Remaining reaches 0: discord.py waits before asking again
        await webhook.send(f"paced {i}", wait=True)
    assert not server.violations
    assert [p.payload["content"] for p in raw.conversation.posts[-4:]] == [
        "after a 429",
        "paced 0",
        "paced 1",
        "paced 2",
    ]


@with_stand_in()
async def test_violations_name_route_rule_field_and_reason(server, session):
    raw = await Raw.start(server, session)
    await raw.defer()
    await raw.edit({"content": "x" * 2001})
    (violation,) = server.violations
    assert violation.route == "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
    assert (violation.rule, violation.field) == ("schema", "content")
    assert "2000 or fewer" in violation.message and "content" in str(violation)
    server.violations.clear()


def test_the_schema_checker_finds_the_route_template():
    from tests.discord_rules import route_template

    assert route_template("/webhooks/1/abc/messages/@original").endswith("/@original")
    assert route_template("/webhooks/1/abc/messages/55").endswith("/{message_id}")
    assert route_template("/interactions/1/abc/callback") == (
        "/interactions/{interaction_id}/{interaction_token}/callback"
    )


def test_a_crashed_client_fails_the_scenario_at_once_with_its_exception():
    from tests.discord_harness import race_with_client

    async def main() -> None:
        async def crash() -> None:
            await asyncio.sleep(0.05)
            raise RuntimeError("client crashed")

        runner = asyncio.create_task(crash())
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="client crashed"):
            await race_with_client(asyncio.sleep(30), runner, timeout=60)
        assert time.monotonic() - started < 5  # not the scenario's timeout

    asyncio.run(main())
