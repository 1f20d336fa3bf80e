"""What the stand-in keeps of each exchange, for tests to read back: the refusals, and
every interaction with everything the bot posted for it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    """One request the stand-in refused, as real Discord would have."""

    route: str  # "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
    rule: str  # "schema", "response_window", "rate_limit", ...
    field: str  # "data.content", "embeds.0.title"; empty when the rule is not a field's
    message: str

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        return f"{self.route}: {self.rule}{where}: {self.message}"


@dataclass
class Posted:
    """One thing the bot sent: a callback, a follow-up, or an edit of the original."""

    kind: str  # "callback", "followup", "edit", "delete"
    interaction_token: str
    payload: dict
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def ephemeral(self) -> bool:
        data = self.payload.get("data", self.payload) if self.kind == "callback" else self.payload
        return bool((data or {}).get("flags", 0) & 64)

    @property
    def text(self) -> str:
        """Everything a person reads in this post: content and embed text."""
        data = self.payload.get("data", {}) if self.kind == "callback" else self.payload
        data = data or {}
        parts = [data.get("content") or ""]
        for embed in data.get("embeds") or []:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)


@dataclass
class Conversation:
    """Everything posted for one interaction, in order."""

    token: str
    interaction_id: str
    dispatched_at: float  # on the stand-in's clock; the token is issued at the same time
    user_installed: bool = False  # the app is installed for the user, not in the server
    kind: int = 2  # the interaction's type: 2 application command, 3 component
    source_message_id: str | None = None  # a component's message (its "original" response)
    message_ids: list[str] = field(default_factory=list)  # messages this interaction made
    store: dict[str, dict] = field(default_factory=dict, repr=False)  # every message by id
    posts: list[Posted] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False  # the token no longer works (expired, or the message was deleted)

    @property
    def acknowledged(self) -> bool:
        return any(p.kind == "callback" for p in self.posts)

    @property
    def followups(self) -> int:
        return sum(p.kind == "followup" for p in self.posts)

    @property
    def callback(self) -> Posted:
        return next(p for p in self.posts if p.kind == "callback")

    async def wait_until(self, predicate, timeout: float = 30.0) -> None:
        async def poll() -> None:
            while not predicate(self):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), timeout)

    @property
    def original_id(self) -> str | None:
        """What `@original` names: the response message, or a component's own message."""
        return self.message_ids[0] if self.message_ids else self.source_message_id

    @property
    def message(self) -> dict:
        """The newest message this interaction made (or changed), as Discord stores it."""
        ids = self.message_ids or [self.source_message_id]
        return self.store[ids[-1]]

    def buttons(self) -> list[dict]:
        """The buttons on `message`, in order."""
        return [
            item
            for row in self.message.get("components") or []
            for item in row.get("components") or []
            if item.get("type") == 2
        ]

    @property
    def final(self) -> Posted:
        """The last message content the user sees (edit or follow-up)."""
        return [p for p in self.posts if p.kind in ("edit", "followup", "callback")][-1]
