"""Builds the engine and the domain services once; every front end receives the same object."""

from __future__ import annotations

from dataclasses import dataclass

from bot.caption.service import CaptionService
from bot.color.service import ColorService
from bot.config import Settings
from bot.name.service import NameService
from bot.paint.service import PaintService
from bot.palette.service import PaletteService
from bot.runtime.batching import BatcherPool, Pool
from bot.runtime.engine import InferenceEngine
from bot.write.service import WriteService


def make_pool(settings: Settings) -> Pool:
    """In-process batchers (the default), or the Ray Serve inference tier when
    `RNNBOT_SERVE_ADDRESS` names a cluster (`pip install -e ".[scale]"`)."""
    if settings.serve_address is None:
        return BatcherPool(settings.max_batch)
    from bot.runtime.remote_pool import RemotePool  # Ray only when asked for

    return RemotePool(settings.serve_address, max_batch=settings.max_batch)


@dataclass
class Services:
    settings: Settings
    engine: InferenceEngine
    pool: Pool
    color: ColorService
    write: WriteService
    caption: CaptionService
    paint: PaintService
    name: NameService
    palette: PaletteService

    @classmethod
    def start(cls, settings: Settings) -> Services:
        engine = InferenceEngine(
            settings.model_dir,
            prefer_gpu=settings.prefer_gpu,
            threads=settings.threads,
            spin=settings.spin,
        )
        pool = make_pool(settings)
        engine.on_retire(pool.retire)  # a replaced model's batcher drains and lets go
        engine.load_all()
        color = ColorService(engine)
        name = NameService(engine, pool, color)
        return cls(
            settings=settings,
            engine=engine,
            pool=pool,
            color=color,
            write=WriteService(engine, pool),
            caption=CaptionService(engine, pool),
            paint=PaintService(engine, pool),
            name=name,
            palette=PaletteService(color, name),
        )

    def close(self, grace: float = 5.0) -> None:
        """Stop admitting, let running generations finish within `grace` s, free sessions."""
        self.pool.close(grace)
        self.engine.close()
