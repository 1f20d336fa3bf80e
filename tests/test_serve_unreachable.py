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
    monkeypatch.setattr("bot.remote_pool.RETRY_SECONDS", 0)  # retry at every request
    with caplog.at_level(logging.ERROR, logger="bot.remote_pool"):
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
