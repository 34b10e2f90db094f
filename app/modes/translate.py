"""Translate: speak, and hear the translation with Kyutai's Hibiki models while its text appears;
recorded sessions (your voice and the translation, with its text) land in History. The engine is
the conversation engine with the Hibiki stream setup (moshi_mlx/hibiki/setup.py): the same
devices, echo cancellation and lag control as Talk; sampling from the model's config.json."""

from __future__ import annotations

from ..engine_bridge import EngineBridge
from ..transcript import Transcript
from .live_mode import LiveMode
from .translate_page import TranslatePage

USED_BY = "the app's Translate mode"
SESSION_TITLE = "Translation"


class TranslateMode(LiveMode):
    id = "translate"
    label = "Translate"
    kinds = ("hibiki",)
    verbs = ("Start Translating", "Stop Translating")
    what_for = ("Download one of Kyutai's Hibiki models (4 GB for Hibiki 1B, French to English), "
                "import a folder, or try the demo model (random weights: it only makes noise).")

    def __init__(self, shell) -> None:
        self.transcript = Transcript()
        super().__init__(shell)
        p = self.page
        p.aec_check.setChecked(self.option("aec", True))
        p.aec_check.toggled.connect(lambda on: self.set_option("aec", bool(on)))
        p.guidance.setValue(self.option("cfg_coef", 1.0))
        p.guidance.valueChanged.connect(lambda value: self.set_option("cfg_coef", float(value)))

    def build_page(self) -> TranslatePage:
        return TranslatePage(self.model_picker, self.device_picker)

    def make_bridge(self) -> EngineBridge:
        return EngineBridge(self.backend, self, make_options=self.backend.make_translation_options)

    def engine_options(self, model: str, record_dir: str | None) -> dict:
        s, p = self.shell.settings, self.page
        return dict(model=model, input_device=self.prefs.input_device or None,
                    output_device=self.prefs.output_device or None, aec=p.aec_check.isChecked(),
                    seed=s.seed, record_dir=record_dir, cache_dir=s.cache_dir or None, kinds=self.kinds,
                    used_by=USED_BY, kind_options={"cfg_coef": float(p.guidance.value())})

    def running_text(self) -> str:
        dp = self.device_picker
        return f"Translating · {dp.input_combo.currentText()} → {dp.output_combo.currentText()}"

    def session_event(self, event) -> None:
        from moshi_mlx.engine.events import TextEvent

        if isinstance(event, TextEvent):
            what, _line = self.transcript.add(event.text, event.time_s, event.conversation)
            self.page.text_view.add_piece(what, self.transcript, SESSION_TITLE, event.text)

    def color_scheme_changed(self, *_args) -> None:
        self.page.text_view.render(self.transcript, SESSION_TITLE)
