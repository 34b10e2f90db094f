"""Wires the model manager: models grouped by kind with their fit, download, import, convert
(background jobs). It is opened for a mode: "Use This Model" gives that mode the model, and only
models of a kind the mode accepts can be used there."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog

from ..jobs import Job
from ..messages import for_error
from ..modes.base import DEMO_LABEL, demo_label
from ..sysinfo import format_bytes, format_duration, free_disk_bytes, hf_cache_dir, total_memory_bytes
from ..views.model_manager import ModelManagerDialog, ModelRow

DISK_MARGIN_BYTES = 500_000_000  # kept free beyond the model itself


class ModelsController(QObject):
    def __init__(self, main) -> None:
        super().__init__(main)
        self.main = main  # the shell
        self.backend = main.backend
        self.dialog: ModelManagerDialog | None = None
        self.job: Job | None = None
        self.mode = None  # the mode the manager chooses for

    # -- dialog -------------------------------------------------------------------------------
    @Slot()
    def open(self, mode=None) -> ModelManagerDialog:
        """Show the manager, choosing for `mode` (default: the active mode)."""
        self.mode = mode or self.main.active_mode
        if self.dialog is None:
            d = ModelManagerDialog(self.main.window)
            d.use_button.clicked.connect(self.use_selected)
            d.download_button.clicked.connect(lambda: self.download())
            d.import_button.clicked.connect(lambda: self.import_folder())
            d.convert_button.clicked.connect(lambda: self.convert())
            d.cancel_button.clicked.connect(self.cancel)
            d.table.itemSelectionChanged.connect(self._selection_changed)
            self.dialog = d
        self.dialog.setWindowTitle(f"Models for {self.mode.label}")
        self.refresh()
        mem = total_memory_bytes()
        self.dialog.set_memory_text(
            (f"This computer has {mem / 2**30:.0f} GB of memory. " if mem else "")
            + "Models are stored in " + str(hf_cache_dir(self.main.settings.cache_dir or None))
            + "; once downloaded, they work offline.")
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def rows(self) -> list[ModelRow]:
        cache = self.main.settings.cache_dir or None
        mem = total_memory_bytes()
        rows = [ModelRow(self.backend.demo_spec(), DEMO_LABEL, "–", "tiny", "Built in", True,
                         "ok", "Runs anywhere; says nothing meaningful", False, "moshi")]
        rows += [ModelRow(spec, demo_label(spec), "–", "tiny", "Built in", True, "ok",
                          "Runs anywhere; says nothing meaningful", False, kind)
                 for spec, kind in self._other_demos()]
        for known in self.backend.known_models():
            installed = self.backend.is_installed(known.repo_id, cache_dir=cache)
            fit, sentence = self.backend.recommend(known, mem)
            rows.append(ModelRow(known.repo_id, known.label, known.voice, format_bytes(known.size_bytes),
                                 "Installed" if installed else "Not downloaded", installed, fit,
                                 sentence + ("; licence to accept on Hugging Face" if known.gated else ""),
                                 not installed, known.kind))
        if "llm" in self.mode.kinds:  # the Assistant: its curated chat models
            for known in self.backend.chat_known_models():
                installed = self.backend.is_installed(known.repo_id, cache_dir=cache)
                fit, sentence = self.backend.recommend(known, mem)
                rows.append(ModelRow(known.repo_id, known.label, "–", format_bytes(known.size_bytes),
                                     "Installed" if installed else "Not downloaded", installed, fit, sentence,
                                     not installed, "llm"))
        for folder in self.main.settings.local_models:
            present = Path(folder).is_dir()
            rows.append(ModelRow(folder, Path(folder).name, "–", "–",
                                 "Local folder" if present else "Folder missing", present, "", folder, False,
                                 self._folder_kind(folder) if present else ""))
        return rows

    def _other_demos(self) -> list[tuple[str, str]]:
        """(spec, kind) of the demo models of the other kinds this app has a mode for."""
        from moshi_mlx.demo import DEMOS
        from moshi_mlx.kinds import KINDS

        return [(k.demo, k.name) for k in KINDS.values() if k.demo in DEMOS
                and k.demo != self.backend.demo_spec() and k.mode in self.main.modes]

    def _folder_kind(self, folder: str) -> str:
        from moshi_mlx.errors import MoshiError

        try:
            return self.backend.model_kind(folder) or ""
        except MoshiError:
            return ""  # unreadable config.json: listed as of unknown kind

    def refresh(self) -> None:
        if self.dialog is not None:
            self.dialog.set_rows(self.rows(), self.mode.prefs.model if self.mode else "")
            self._selection_changed()

    def known_model(self, spec: str):
        found = next((k for k in self.backend.known_models() if k.repo_id == spec), None)
        if found is None and self.mode is not None and "llm" in self.mode.kinds:
            found = next((k for k in self.backend.chat_known_models() if k.repo_id == spec), None)
        return found

    def _selection_changed(self) -> None:
        d = self.dialog
        row = d.selected_row() if d else None
        busy = self.job is not None and self.job.is_running()
        if d is None:
            return
        fits = row is not None and (not row.kind or row.kind in self.mode.kinds)
        if not busy:
            d.download_button.setEnabled(bool(row and row.downloadable))
            d.use_button.setEnabled(bool(row and row.installed and fits))
        d.set_hint("" if row is None or fits else self._other_kind_hint(row))

    def _other_kind_hint(self, row: ModelRow) -> str:
        from moshi_mlx.kinds import KINDS

        kind = KINDS[row.kind]
        from ..modes.labels import mode_label

        where = (f"the {mode_label(kind.mode)} mode" if kind.mode in self.main.modes
                 else f"the {mode_label(kind.mode)} mode (coming in a later version of the app)")
        return f"{row.label} is a {kind.label} model: it is for {where}, not for {self.mode.label}."

    @Slot()
    def use_selected(self) -> None:
        row = self.dialog.selected_row() if self.dialog else None
        if row is None or not row.installed:
            return
        self.mode.set_model(row.spec)  # refuses a model of another kind, saying why
        self.refresh()

    # -- jobs ---------------------------------------------------------------------------------
    def _run(self, name: str, describe, fn, on_success) -> Job:
        job = Job(name, fn, self)
        d = self.dialog
        d.set_job_visible(True)
        d.set_job_progress(None, describe(job))
        job.progress.connect(lambda *_: d.set_job_progress(
            job.done / job.total if job.total else None, describe(job)))
        job.succeeded.connect(on_success)
        job.failed.connect(lambda m: self.main.messages.show(
            for_error("download" if name == "download" else name, m)))
        job.failed.connect(lambda m: d.set_job_text(f"{name.capitalize()} failed."))
        job.cancelled.connect(lambda: d.set_job_text(f"{name.capitalize()} cancelled."))
        job.finished.connect(lambda: (d.set_job_visible(False), self.refresh()))
        self.job = job
        job.start()
        return job

    @staticmethod
    def _describe(verb: str, job: Job, unit_bytes: bool = True) -> str:
        if not job.total:
            return f"{verb}…"
        fmt = format_bytes if unit_bytes else (lambda n: f"{n:.0f}")
        speed = job.speed()
        return (f"{verb}: {fmt(job.done)} of {fmt(job.total)} · {format_bytes(speed)}/s · "
                f"{format_duration(job.remaining_s())} left")

    def download(self, repo_id: str | None = None) -> Job | None:
        """Download a known model (the selected one when None), after checking the disk space."""
        self.open()
        repo_id = repo_id or self.dialog.selected_spec()
        known = self.known_model(repo_id)
        if known is None or (self.job is not None and self.job.is_running()):
            return None
        cache = self.main.settings.cache_dir or None
        target = hf_cache_dir(cache)
        free = free_disk_bytes(target)
        if free < known.size_bytes + DISK_MARGIN_BYTES:
            self.main.messages.show(for_error("disk_space", (
                f"{known.label} needs {format_bytes(known.size_bytes)} but only {format_bytes(free)} "
                f"is free on the disk holding {target}.")))
            return None
        self.dialog.select_spec(repo_id)

        def work(progress, cancel):
            return self.backend.download(repo_id, cache, progress, cancel)

        def done(_path) -> None:
            self.dialog.set_job_text(f"{known.label} downloaded.")
            if not self.mode.prefs.model and known.kind in self.mode.kinds:
                self.mode.set_model(repo_id)  # the mode's first model: chosen for the user

        return self._run("download", lambda j: self._describe(f"Downloading {known.label}", j), work, done)

    def import_folder(self, folder: str | None = None) -> bool:
        """Add a local model folder after checking it holds a usable model."""
        self.open()
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.dialog, "Import a model folder")
            if not folder:
                return False
        try:
            path = str(self.backend.check_local_model(folder))
        except Exception as e:
            self.main.messages.show(for_error("import", str(e) or f"{folder} is not a model folder"))
            return False
        self._add_local(path)
        return True

    def convert(self, source: str | None = None, output: str | None = None,
                bits: int | None | str = "ui") -> Job | None:
        """Convert a PyTorch checkpoint with moshi_quantize in the background; the result is added
        to the local models."""
        self.open()
        if source is None:
            source, _ = QFileDialog.getOpenFileName(self.dialog, "PyTorch checkpoint", "",
                                                    "Checkpoints (*.safetensors *.pt *.bin);;All files (*)")
            if not source:
                return None
        if output is None:
            output = QFileDialog.getExistingDirectory(self.dialog, "Save the converted model in")
            if not output:
                return None
            output = str(Path(output) / (Path(source).stem + "-mlx"))
        if bits == "ui":
            bits = self.dialog.convert_bits.currentData()
        if self.job is not None and self.job.is_running():
            return None

        def work(progress, cancel):
            return self.backend.convert(source, output, bits, progress, cancel)

        def done(_summary) -> None:
            self.dialog.set_job_text(f"Converted into {output}.")
            self._add_local(output)

        return self._run("convert", lambda j: self._describe(f"Converting {Path(source).name}", j), work, done)

    @Slot()
    def cancel(self) -> None:
        if self.job is not None and self.job.is_running():
            self.job.cancel()
            self.dialog.set_job_text("Cancelling…")

    def _add_local(self, folder: str) -> None:
        folders = tuple(dict.fromkeys((*self.main.settings.local_models, folder)))
        self.main.update_settings(local_models=folders)
        self.refresh()
        self.dialog.select_spec(folder)

    def shutdown(self) -> None:
        if self.job is not None and self.job.is_running():
            self.job.wait()
