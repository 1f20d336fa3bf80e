"""Loads the ONNX models in a directory and runs them with onnxruntime.

One file is one model: its metadata says what it is. A file that is missing, corrupt
or of the wrong shape disables only the commands that need it; the engine records why
so the bot can tell users and admins.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bot.contract.metadata import ModelMetadata, TensorSpec
from bot.contract.schema import validate_metadata
from bot.contract.signatures import expected_io
from bot.contract.trained import TRAINED_DIR, model_name
from bot.errors import ModelGone, quoted
from bot.runtime.onnx_guard import metadata_props, references_external_data

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
MAX_MODEL_BYTES = 256 * 2**20  # far above any model here; a bound on what a file may cost
_ORT_TYPES = {
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(float)": "float",
    "tensor(uint8)": "uint8",
}


@dataclass
class LoadedModel:
    name: str
    path: Path
    metadata: ModelMetadata
    session: ort.InferenceSession
    mtime_ns: int
    output_names: list[str] = field(default_factory=list)
    retired: bool = False  # set once the engine has replaced or removed it

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name, so callers never depend on the graph's output order."""
        values = self.session.run(self.output_names, dict(feeds))
        return dict(zip(self.output_names, values, strict=True))


def _check_signature(actual: list, expected: list[TensorSpec], what: str) -> None:
    by_name = {a.name: a for a in actual}
    if sorted(by_name) != sorted(s.name for s in expected):
        raise ValueError(
            f"{what} are {sorted(by_name)}, metadata implies {sorted(s.name for s in expected)}"
        )
    for spec in expected:
        node = by_name[spec.name]
        dtype = _ORT_TYPES.get(node.type, node.type)
        shape = tuple(d if isinstance(d, int) else None for d in node.shape)
        if dtype != spec.dtype or shape != spec.shape:
            raise ValueError(
                f"{what[:-1]} {spec.name!r} is {dtype}{list(shape)}, "
                f"expected {spec.dtype}{list(spec.shape)}"
            )


class ProviderChoice:
    """Decides once whether CUDA really works, so later sessions never retry (and never spam)."""

    def __init__(self, prefer_gpu: bool = True) -> None:
        self.prefer_gpu = prefer_gpu
        self._providers: list[str] | None = None
        self._lock = threading.Lock()

    def session(self, data: bytes, options: ort.SessionOptions) -> ort.InferenceSession:
        with self._lock:
            if self._providers is None:
                return self._probe(data, options)
        return ort.InferenceSession(data, options, providers=self._providers)

    def _probe(self, data: bytes, options: ort.SessionOptions) -> ort.InferenceSession:
        if not self.prefer_gpu or CUDA not in ort.get_available_providers():
            self._providers = [CPU]
            log.info("inference on CPU (CUDA not requested or not built in)")
            return ort.InferenceSession(data, options, providers=[CPU])
        # A CUDA provider that cannot load its libraries logs loudly and falls back; keep
        # that quiet and look at what the session actually got.
        ort.set_default_logger_severity(4)
        try:
            session = ort.InferenceSession(data, options, providers=[CUDA, CPU])
        finally:
            ort.set_default_logger_severity(2)
        self._providers = [CUDA, CPU] if CUDA in session.get_providers() else [CPU]
        log.info("inference on %s", "CUDA" if CUDA in self._providers else "CPU (CUDA unusable)")
        return session

    @property
    def providers(self) -> list[str] | None:
        return self._providers


class InferenceEngine:
    """The models in service. Reloads are serialised; a replaced or removed model is
    marked retired and handed to the `on_retire` listeners (the batchers), which drain
    and drop it, so its session is released."""

    def __init__(
        self,
        model_dir: Path,
        prefer_gpu: bool = True,
        threads: int = 0,
        spin: bool = True,
        serves: Callable[[ModelMetadata], bool] | None = None,
    ) -> None:
        """`serves` picks the files this engine serves by their metadata (an inference
        replica's share of the directory); the others are skipped without a session."""
        self.model_dir = Path(model_dir)
        self.serves = serves
        self.providers = ProviderChoice(prefer_gpu)
        self.threads = threads
        self.spin = spin
        self.models: dict[str, LoadedModel] = {}
        self.failures: dict[str, str] = {}
        self.reloads = 0  # reloads run since start (for the metrics)
        self._reload_lock = threading.Lock()
        self._retire_listeners: list[Callable[[LoadedModel], None]] = []

    def on_retire(self, listener: Callable[[LoadedModel], None]) -> None:
        self._retire_listeners.append(listener)

    def _options(self) -> ort.SessionOptions:
        """`threads` 0 is onnxruntime's own choice; `spin`: its intra-op threads busy-wait
        between calls (the bot's settings choose, see `bot.config`)."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.log_severity_level = 3
        spin = "1" if self.spin else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        options.add_session_config_entry("session.inter_op.allow_spinning", spin)
        return options

    def load_file(self, path: Path, name: str | None = None) -> LoadedModel:
        """Load and validate one file; raises ValueError (with the reason) if unusable."""
        data, mtime = read_model_file(path)
        try:
            external = references_external_data(data)
        except ValueError as exc:
            raise ValueError(f"{path.name} is not a loadable ONNX model ({exc})") from exc
        if external:
            raise ValueError(
                f"{path.name} references external tensor data, which is not accepted: "
                "a model must be one self-contained file"
            )
        try:
            session = self.providers.session(data, self._options())
        except Exception as exc:  # onnxruntime raises several types for a bad file
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise ValueError(f"{path.name} is not a loadable ONNX model ({reason})") from exc
        try:
            meta = ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map)
            validate_metadata(meta)
            inputs, outputs = expected_io(meta)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"{path.name} has unusable metadata: {exc}") from exc
        _check_signature(session.get_inputs(), inputs, "inputs")
        _check_signature(session.get_outputs(), outputs, "outputs")
        outputs_named = [s.name for s in outputs]
        return LoadedModel(name or path.stem, path, meta, session, mtime, outputs_named)

    def load_all(self) -> None:
        """Load every *.onnx in the directory, recording failures instead of raising."""
        if not self.model_dir.is_dir():
            log.error("model directory %s does not exist; no commands have models", self.model_dir)
            return
        with self._reload_lock:
            for name, path in self._paths().items():
                self._load_into_service(name, path)

    def reload(self) -> dict[str, str]:
        """Re-read changed or new files and drop deleted ones, one reload at a time.

        A file that fails keeps the old model in service; a removed file removes its model.
        """
        with self._reload_lock:
            self.reloads += 1
            report: dict[str, str] = {}
            paths = self._paths()
            for name in sorted(set(self.models) - set(paths)):
                self._retire(self.models.pop(name))
                log.warning("model %s removed: its file is gone", name)
                report[name] = "removed (its file is gone)"
            for name in sorted(set(self.failures) - set(paths)):
                del self.failures[name]
            for name, path in paths.items():
                current = self.models.get(name)
                try:
                    unchanged = current and current.mtime_ns == path.stat().st_mtime_ns
                except OSError:
                    unchanged = False
                if not unchanged:
                    report[name] = self._load_into_service(name, path)
            return report

    def _paths(self) -> dict[str, Path]:
        """The files this engine serves, by model name: the directory's own models, then
        the styles servers trained (`bot.contract.trained`)."""
        named = {p.stem: p for p in sorted(self.model_dir.glob("*.onnx"))}
        for path in sorted(self.model_dir.glob(f"{TRAINED_DIR}/*/*.onnx")):
            if path.parent.name.isascii() and path.parent.name.isdigit():
                named[model_name(int(path.parent.name), path.stem)] = path
        return {n: p for n, p in named.items() if self._serves(p)}

    def _serves(self, path: Path) -> bool:
        if self.serves is None:
            return True
        try:
            meta = file_metadata(path)
        except ValueError:
            return True  # loading it records why it is unusable
        return self.serves(meta)

    def _load_into_service(self, name: str, path: Path) -> str:
        try:
            model = self.load_file(path, name)
        except ValueError as exc:
            reason = str(exc)
            if name in self.models:
                log.error("model %s not reloaded, previous version kept: %s", name, reason)
                return f"failed, previous version kept: {reason}"
            self.failures[name] = reason
            log.error("model %s disabled: %s", name, reason)
            return f"failed: {reason}"
        old = self.models.get(name)
        self.models[name] = model  # a single assignment: readers see old or new, never half
        self.failures.pop(name, None)
        if old is not None:
            self._retire(old)
        log.info("model %s loaded (%s)", name, model.metadata.kind)
        return "loaded"

    def _retire(self, model: LoadedModel) -> None:
        model.retired = True
        for listener in self._retire_listeners:
            try:
                listener(model)
            except Exception:
                log.exception("retiring model %s failed", model.name)

    def close(self) -> None:
        """Retire every model (their batchers stop) and drop the sessions."""
        with self._reload_lock:
            for model in self.models.values():
                self._retire(model)
            self.models = {}

    def by_kind(self, kind: str) -> dict[str, LoadedModel]:
        return {n: m for n, m in self.models.items() if m.metadata.kind == kind}

    def get(self, name: str, kind: str) -> LoadedModel:
        model = self.models.get(name)
        if model is not None and model.metadata.kind == kind:
            return model
        reason = self.failures.get(name, f"no {kind} model named {quoted(name)} is loaded")
        raise ModelGone(f"The {name[:60]} model is unavailable right now ({reason[:300]}).")


def read_model_file(path: Path) -> tuple[bytes, int]:
    """A model file's bytes and mtime; ValueError for what is not a regular file of at most
    MAX_MODEL_BYTES. Opened without blocking and checked on the open descriptor, so a
    pipe or device swapped in after the directory was listed is refused too."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"cannot read {path.name}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        if info.st_size > MAX_MODEL_BYTES:
            raise ValueError(f"{path.name} is larger than {MAX_MODEL_BYTES // 2**20} MiB")
        try:
            data = file.read(MAX_MODEL_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"cannot read {path.name}: {exc.strerror}") from exc
    if len(data) > MAX_MODEL_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_MODEL_BYTES // 2**20} MiB")
    return data, info.st_mtime_ns


def file_metadata(path: Path) -> ModelMetadata:
    """A model file's metadata without a session (ValueError when it cannot be read)."""
    return ModelMetadata.from_props(metadata_props(read_model_file(path)[0]))
