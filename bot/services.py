"""Builds the engine and the domain services once; every front end receives the same object."""

from __future__ import annotations

from dataclasses import dataclass

from bot.caption.service import CaptionService
from bot.colors.service import ColorService
from bot.config import Settings
from bot.engine import InferenceEngine
from bot.paint.service import PaintService
from bot.write.service import WriteService


@dataclass
class Services:
    engine: InferenceEngine
    color: ColorService
    write: WriteService
    caption: CaptionService
    paint: PaintService

    @classmethod
    def start(cls, settings: Settings) -> Services:
        engine = InferenceEngine(settings.model_dir, prefer_gpu=settings.prefer_gpu)
        engine.load_all()
        return cls(
            engine=engine,
            color=ColorService(engine),
            write=WriteService(engine),
            caption=CaptionService(engine),
            paint=PaintService(engine),
        )
