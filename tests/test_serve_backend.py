"""The Ray Serve inference tier on a local Ray instance: the same services, remotely."""

import pickle
import time

import pytest

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

from bot.config import Settings  # noqa: E402
from bot.runtime.serve_app import APP_NAME, start_local  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.write.service import WriteRequest  # noqa: E402
from tests.conftest import CAPTION_COLORS, png_bytes  # noqa: E402
from tests.discord_harness import run_with_bot  # noqa: E402
from tests.remote_faults import (  # noqa: E402
    assert_answered_or_told_to_retry,
    outcomes_of_writes_during,
)


@pytest.fixture(scope="module")
def local_serve(model_dir):
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    start_local(model_dir)
    yield model_dir
    serve.shutdown()
    ray.shutdown()


@pytest.fixture()
def remote_services(local_serve, monkeypatch):
    for command in ("COLOR", "WRITE", "CAPTION", "PAINT", "NAME"):
        monkeypatch.setenv(f"RNNBOT_COOLDOWN_{command}", "0/0")
    services = Services.start(
        Settings(model_dir=local_serve, prefer_gpu=False, serve_address="auto")
    )
    yield services
    services.close(grace=1.0)


def test_remote_generation_equals_in_process(remote_services, services):
    request = WriteRequest("tiny", "the king", 120, 0.8, 5)
    remote = remote_services.write.write(request)
    local = services.write.write(request)
    assert remote.text == local.text and len(remote.text) == len("the king") + 120


def test_discord_end_to_end_through_the_inference_tier(remote_services):
    async def scenario(discord, bot):
        write = await discord.run("write", style="tiny", prompt="the", length=80, wait=False)
        await write.wait_until(lambda c: bool(c.message_ids) and c.message.get("components"))
        assert "the" in write.message["content"]
        paint = await discord.run("paint", seed=2, wait=False)
        await paint.wait_until(lambda c: bool(c.message_ids) and c.message.get("components"))
        assert "seed 2" in paint.message["content"]
        picture = {"image": (png_bytes(CAPTION_COLORS["green"]), "image/png")}
        caption = await discord.run("caption", attachments=picture)  # image state travels
        assert caption.message["embeds"][0]["title"] == "Caption for your image"
        named = await discord.run("name", color="#228b22")
        assert named.message["embeds"][0]["title"] == "Names for #228b22"
        again = await discord.press(write, "Again", wait=False)  # a button, remotely too
        await again.wait_until(lambda c: bool(c.message_ids) and c.message.get("components"))

    run_with_bot(remote_services, scenario, timeout=120)


def test_a_replica_refuses_a_pickle_and_never_runs_it(local_serve, tmp_path):
    """A replica reads a generation as plain data: a crafted pickle, which would have run
    code in the replica as it was unpickled, is refused with a clear error."""
    from bot.runtime.remote_pool import remote_failure
    from tests.test_wire_format import RunsCode

    handle = serve.get_deployment_handle("WriteSteps", app_name=APP_NAME)
    marker = tmp_path / "ran"
    payload = pickle.dumps((RunsCode(marker), None))
    with pytest.raises(Exception, match="not a generation message") as refused:
        list(handle.options(stream=True).generate.remote("tiny", payload))
    assert not marker.exists()
    assert "could not read this request" in str(remote_failure(refused.value))


def test_models_and_reload_reach_every_replica(remote_services, local_serve):
    start_local(local_serve, replicas={"write": 2})  # and one of each other deployment
    try:

        async def scenario(discord, bot):
            writing = await discord.run("write", style="tiny", length=1500, seed=3, wait=False)
            reload = await discord.run("reload", permissions=1 << 5)
            assert "inference replicas (5), one after another" in reload.final.text
            await writing.wait_until(lambda c: bool(c.message_ids) and c.message.get("components"))
            assert not writing.final.ephemeral  # the reload failed no request
            models = await discord.run("models")
            fields = {f["name"]: f["value"] for f in models.final.payload["embeds"][0]["fields"]}
            lines = fields["Inference replicas (5)"].splitlines()
            assert [line.split()[0] for line in lines] == [
                "CaptionSteps", "NameSteps", "PaintSteps", "WriteSteps", "WriteSteps"
            ]  # fmt: skip
            assert "tiny" in lines[3] and "tiny" in lines[4] and "tiny" not in lines[2]

        run_with_bot(remote_services, scenario, timeout=120)
    finally:
        start_local(local_serve)


def replica_actors() -> list:
    return [
        ray.get_actor(a["name"], namespace=a["namespace"])
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["name"].startswith("SERVE_REPLICA") and "Steps" in a["name"]
    ]


def backend_agnostic_scenarios() -> list:
    """The Discord end-to-end tests that hold for any backend (not the ones that read the
    in-process batchers' counters), to run again through the inference tier."""
    from tests import test_buttons_e2e as buttons
    from tests import test_discord_e2e as e2e

    return [
        e2e.test_color_command_end_to_end,
        e2e.test_write_caption_and_paint_end_to_end,
        e2e.test_fuzz_every_command_answers_and_pings_no_one,
        buttons.test_write_buttons_again_continue_and_temperature,
        buttons.test_only_the_asker_may_press_unless_the_server_allows_anyone,
        buttons.test_caption_button_and_right_click_commands,
        buttons.test_paint_buttons_new_variation_and_bigger,
        buttons.test_color_buttons_name_this_colour,
    ]


@pytest.mark.parametrize("scenario", backend_agnostic_scenarios(), ids=lambda f: f.__name__[5:])
def test_the_discord_suite_through_the_inference_tier(remote_services, scenario):
    scenario(remote_services)


def test_a_replica_killed_mid_generation_never_hangs(remote_services):
    """Killed while requests are on it: each ends within a bound, with its answer (Serve
    retried it) or a clear "try again"; the tier then serves again."""

    def kill_every_replica() -> None:
        for actor in replica_actors():
            ray.kill(actor, no_restart=False)

    started = time.monotonic()
    outcomes = outcomes_of_writes_during(remote_services, 8, kill_every_replica)
    assert time.monotonic() - started < 90
    assert_answered_or_told_to_retry(outcomes)
    after = remote_services.write.write(WriteRequest("tiny", "the", 60, 0.8, 1))
    assert len(after.text) == 63
