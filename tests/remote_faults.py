"""What the fault tests of the inference tier share: long generations in flight while a
fault happens, and what became of each."""

import asyncio

from bot.errors import UserFacingError
from bot.write.service import WriteRequest

LENGTH = 1500


def outcomes_of_writes_during(services, count: int, fault) -> list[int | str]:
    """Start `count` /write generations of LENGTH characters, call `fault()`, and return
    for each the length of its text or the message of the error it ended with (each is
    given 60 s: a hang fails the test)."""

    async def scenario() -> list[int | str]:
        jobs = [
            services.write.submit(WriteRequest("tiny", "the", LENGTH, 0.8, seed))
            for seed in range(count)
        ]
        fault()
        outcomes: list[int | str] = []
        for job in jobs:
            try:
                outcomes.append(len((await asyncio.wait_for(job.wait(), 60)).text))
            except UserFacingError as error:
                outcomes.append(str(error))
        return outcomes

    return asyncio.run(scenario())


def assert_answered_or_told_to_retry(outcomes: list[int | str]) -> None:
    for outcome in outcomes:
        assert outcome == len("the") + LENGTH or "try again" in outcome, outcome
