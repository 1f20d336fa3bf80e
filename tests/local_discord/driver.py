"""Acting as a person in Discord: running slash commands, pressing buttons, using
right-click menus and posting messages to run them on. Each action becomes an
INTERACTION_CREATE on the socket of the shard that owns the guild, and the returned
`Conversation` fills in as the bot answers."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.local_discord.payloads import (
    APPLICATION_ID,
    GUILD_ID,
    USER_ID,
    guild_context,
    private_channel_context,
    snowflake,
    user_payload,
)
from tests.local_discord.records import Conversation


class UserDriver:
    """The user's half of `LocalDiscord`: it dispatches through the Gateway half and
    stores what it posts where the HTTP half serves it."""

    async def run(
        self,
        command: str,
        /,
        *,
        user_id: int = USER_ID,
        permissions: int = 0,
        attachments: dict[str, tuple[bytes, str]] | None = None,
        user_installed: bool = False,
        guild_id: int = GUILD_ID,
        timeout: float = 30.0,
        wait: bool = True,
        **options: Any,
    ) -> Conversation:
        """Dispatch an INTERACTION_CREATE for `/command options...`; wait for the answer.

        `user_installed` sends it as from an app the user installed, used in a private
        channel where the app is not installed (Discord then caps follow-ups at five).
        It arrives on the socket of the shard that owns `guild_id` (DMs: shard 0)."""
        data = self._command_data(command, options, attachments or {})
        return await self._interact(
            2, data, user_id, permissions, user_installed, guild_id, timeout, wait
        )

    async def press(
        self,
        conversation: Conversation,
        label: str,
        *,
        user_id: int = USER_ID,
        permissions: int = 0,
        timeout: float = 30.0,
        wait: bool = True,
    ) -> Conversation:
        """Press the button whose label (or emoji) is `label` on the newest message of
        `conversation`, as a user would: a component interaction (type 3) carrying the
        message as Discord stores it now."""
        message = conversation.message
        for button in conversation.buttons():
            emoji = (button.get("emoji") or {}).get("name")
            if label in (button.get("label"), emoji):
                break
        else:
            shown = [
                (b.get("emoji") or {}).get("name") or b.get("label") for b in conversation.buttons()
            ]
            raise LookupError(f"no button {label!r} on the message; it has {shown}")
        if button.get("disabled"):
            raise LookupError(f"the button {label!r} is disabled (Discord does not send it)")
        data = {"custom_id": button["custom_id"], "component_type": 2}
        return await self._interact(
            3,
            data,
            user_id,
            permissions,
            conversation.user_installed,
            GUILD_ID,
            timeout,
            wait,
            message=message,
        )

    async def run_menu(
        self,
        name: str,
        *,
        message: dict | None = None,
        user: dict | None = None,
        user_id: int = USER_ID,
        permissions: int = 0,
        user_installed: bool = False,
        timeout: float = 30.0,
        wait: bool = True,
    ) -> Conversation:
        """A right-click command: on a message (`message`, as `message_payload` makes it)
        or on a user (`user`, as `user_payload` makes it)."""
        kind, key, target = (3, "messages", message) if message is not None else (2, "users", user)
        data = {
            "id": snowflake(),
            "name": name,
            "type": kind,
            "target_id": target["id"],
            "resolved": {key: {target["id"]: target}},
        }
        return await self._interact(
            2, data, user_id, permissions, user_installed, GUILD_ID, timeout, wait
        )

    async def _interact(
        self,
        kind: int,
        data: dict,
        user_id: int,
        permissions: int,
        user_installed: bool,
        guild_id: int,
        timeout: float,
        wait: bool,
        message: dict | None = None,
    ) -> Conversation:
        """Dispatch one INTERACTION_CREATE on the owning shard's socket; wait for the answer."""
        await asyncio.wait_for(self.ready.wait(), timeout)
        session = self._live_session(0 if user_installed else guild_id)
        token = f"token-{snowflake()}"
        interaction = {
            "id": snowflake(),
            "application_id": str(APPLICATION_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "data": data,
            "locale": "en-US",
            "app_permissions": str((1 << 53) - 1),
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            interaction["message"] = message
        user = user_payload(user_id, f"user{user_id % 1000}")
        if user_installed:
            interaction.update(private_channel_context(user))
        else:
            interaction.update(guild_context(user, permissions, guild_id))
        conversation = self.conversations[token] = Conversation(
            token,
            interaction["id"],
            self.clock.now(),
            user_installed,
            kind=kind,
            source_message_id=message["id"] if message else None,
            store=self.messages,
        )
        await self._dispatch(session, "INTERACTION_CREATE", interaction)
        if wait:
            await asyncio.wait_for(conversation.done.wait(), timeout)
        return conversation

    def message_payload(
        self,
        content: str = "",
        attachments: dict[str, tuple[bytes, str]] | None = None,
        author_id: int = USER_ID,
    ) -> dict:
        """A message someone posted in the channel (for right-click commands on it)."""
        message_id = snowflake()
        files = []
        for name, (content_bytes, content_type) in (attachments or {}).items():
            attachment_id = snowflake()
            self.uploads[attachment_id] = content_bytes
            url = f"http://{self.public_host}:{self.port}/uploads/{attachment_id}"
            files.append(
                {
                    "id": attachment_id,
                    "filename": name,
                    "size": len(content_bytes),
                    "content_type": content_type,
                    "url": url,
                    "proxy_url": url,
                }
            )
        message = self._message({"content": content}, {})
        message.update(
            id=message_id,
            author=user_payload(author_id, f"user{author_id % 1000}"),
            attachments=files,
            webhook_id=None,
            application_id=None,
        )
        self.messages[message_id] = message
        return message

    def _command_data(
        self, command: str, options: dict[str, Any], attachments: dict[str, tuple[bytes, str]]
    ) -> dict:
        """The slash command's `data`: typed options, and uploaded files as resolved
        attachments the bot downloads from this stand-in."""
        kinds = {str: 3, int: 4, bool: 5, float: 10}
        data_options, resolved = [], {}
        for name, value in options.items():
            data_options.append({"name": name, "type": kinds[type(value)], "value": value})
        for name, (content, content_type) in attachments.items():
            attachment_id = snowflake()
            self.uploads[attachment_id] = content
            data_options.append({"name": name, "type": 11, "value": attachment_id})
            resolved.setdefault("attachments", {})[attachment_id] = {
                "id": attachment_id,
                "filename": f"{name}.bin",
                "size": len(content),
                "content_type": content_type,
                "url": f"http://{self.public_host}:{self.port}/uploads/{attachment_id}",
                "proxy_url": f"http://{self.public_host}:{self.port}/uploads/{attachment_id}",
            }
        group, *path = command.split(" ")
        if path:  # a subcommand, perhaps in a subgroup: its options sit inside it
            data_options = [{"name": path[-1], "type": 1, "options": data_options}]
        if len(path) == 2:
            data_options = [{"name": path[0], "type": 2, "options": data_options}]
        data = {"id": snowflake(), "name": group, "type": 1, "options": data_options}
        if resolved:
            data["resolved"] = resolved
        return data
