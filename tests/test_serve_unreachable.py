"""The bot with an inference tier that is not there: it starts, says so once, refuses
requests with a clear message, and keeps trying."""

import logging

import pytest

pytest.importorskip("ray")

from bot.config import Settings  # noqa: E402
from bot.errors import ModelUnavailable  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.write.service import WriteRequest  # noqa: E402


def test_an_unreachable_tier_is_logged_once_and_requests_get_a_clear_error(
    model_dir, caplog, monkeypatch
):
    import ray

    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setattr("bot.runtime.remote_pool.RETRY_SECONDS", 0)  # retry at every request
    with caplog.at_level(logging.ERROR, logger="bot.runtime.remote_pool"):
        services = Services.start(
            Settings(model_dir=model_dir, prefer_gpu=False, serve_address="auto")
        )
        try:
            for _ in range(3):
                with pytest.raises(ModelUnavailable, match="cannot be reached"):
                    services.write.write(WriteRequest("tiny", "the", 50, 0.8, 1))
            assert services.color.color("forest").hex == "#228b22"  # local models still work
        finally:
            services.close(grace=1.0)
    errors = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(errors) == 1


def test_the_tier_coming_up_later_is_used_from_the_event_loop(model_dir, monkeypatch):
    """A request on the event loop (as every Discord command is) must not run Ray's
    blocking connect there: it is refused while a background attempt runs, and once the
    tier is up, requests on the loop are served."""
    import asyncio
    import time

    import ray
    from ray import serve

    from bot.runtime.serve_app import start_local

    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setattr("bot.runtime.remote_pool.RETRY_SECONDS", 0)
    services = Services.start(Settings(model_dir=model_dir, prefer_gpu=False, serve_address="auto"))
    request = WriteRequest("tiny", "the", 50, 0.8, 1)
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
        start_local(model_dir)
        deadline, text = time.monotonic() + 60, None
        while text is None:
            assert time.monotonic() < deadline, "the tier was never used"
            try:
                text = asyncio.run(services.write.write_async(request)).text
            except ModelUnavailable as refused:
                assert "cannot be reached" in str(refused)
                time.sleep(0.5)
        assert len(text) == len("the") + 50
    finally:
        services.close(grace=1.0)
        serve.shutdown()
        ray.shutdown()
