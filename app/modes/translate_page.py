"""The Translate page: model and devices on top, the headphones hint, the translated text as it
comes, the two levels (your voice, the translation), Start/Stop with echo cancellation, guidance and
Record, and a status line. Layout only; app/modes/translate.py wires it."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFrame, QHBoxLayout, QLabel

from ..views.live_text import LiveTextView
from ..views.mode_parts import DevicePicker, ModelPicker, SessionPage, big_button, label

HEADPHONES_HINT = ("<b>Use headphones.</b> The translation is spoken aloud: through speakers the "
                   "microphone would hear it and translate it again.")
GUIDANCE_TIP = ("Classifier-free guidance: above 1 the translated voice sounds more like yours "
                "(Kyutai suggests 3) and each step costs more; 1 turns it off. Hibiki-Zero has no "
                "guidance: keep 1 for it.")


class TranslatePage(SessionPage):
    def __init__(self, model_picker: ModelPicker, device_picker: DevicePicker) -> None:
        super().__init__(model_picker, device_picker, [("You", "Your voice level"), ("Translation", "Translation level")],
                         "Translation state", ("rtf", "latency", "dropped"))
        outer = self.outer
        self.aec_check = QCheckBox("Echo cancellation")
        self.aec_check.setToolTip("Remove the spoken translation from the microphone (for speakers)")
        device_picker.grid.addWidget(self.aec_check, 1, 2)

        self.hint = QFrame()
        self.hint.setFrameShape(QFrame.Shape.StyledPanel)
        hint_layout = QHBoxLayout(self.hint)
        hint_layout.setContentsMargins(12, 6, 12, 6)
        self.hint_label = QLabel(HEADPHONES_HINT)
        self.hint_label.setWordWrap(True)
        self.hint_label.setAccessibleName("Headphones hint")
        hint_layout.addWidget(self.hint_label)
        outer.addWidget(self.hint)

        self.text_view = LiveTextView("Translation", "The translation appears here as you speak, a few "
                                      "seconds behind you (Hibiki translates French, and Hibiki-Zero also "
                                      "Spanish, Portuguese and German, into English).")
        outer.addWidget(self.text_view, 1)

        self.input_meter, self.output_meter = self.meters.meters
        outer.addWidget(self.meters)

        controls = QHBoxLayout()
        controls.setSpacing(12)
        self.start_button = big_button("Start Translating")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(1.0, 5.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setDecimals(1)
        self.guidance.setToolTip(GUIDANCE_TIP)
        self.guidance.setAccessibleName("Voice guidance")
        self.record_check = QCheckBox("Record")
        self.record_check.setToolTip("Save your voice and the translation, with its text, in the recordings "
                                     "folder (listed in History)")
        controls.addStretch(1)
        controls.addWidget(self.start_button)
        controls.addWidget(label("Guidance", secondary=True))
        controls.addWidget(self.guidance)
        controls.addWidget(self.record_check)
        controls.addStretch(1)
        outer.addLayout(controls)

        self.rtf_label, self.latency_label, self.dropped_label = (
            self.status.labels[k] for k in ("rtf", "latency", "dropped"))
        self.latency_label.setToolTip("From your voice reaching the microphone to the model's audio being "
                                      "queued (the translation itself lags a few seconds more)")
        outer.addWidget(self.status)

    def set_running(self, running: bool, busy: bool = False) -> None:
        self.start_button.setText("Stop Translating" if running else "Start Translating")
        self.start_button.setEnabled(not busy)
        self.lock_setup(running or busy, self.aec_check, self.guidance)
