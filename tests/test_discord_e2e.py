"""End to end: the real discord.py client against the local Discord stand-in."""

import io

from PIL import Image

from tests.discord_harness import run_with_bot


def test_color_command_end_to_end(services):
    async def scenario(discord, bot):
        conversation = await discord.run("color", name="forest")
        assert conversation.callback.payload["type"] == 5  # deferred first
        followup = conversation.final
        embed = followup.payload["embeds"][0]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert embed["title"] == "forest" and fields["Hex"] == "`#228b22`"
        assert embed["color"] == 0x228B22
        swatch = Image.open(io.BytesIO(followup.files["swatch.png"])).convert("RGB")
        assert swatch.getpixel((500, 128)) == (34, 139, 34)
        assert followup.payload["allowed_mentions"]["parse"] == []

    run_with_bot(services, scenario)
