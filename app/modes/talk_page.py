"""The Talk page: model and devices on top, the live transcript, meters, the big Start/Stop button
and a status line. Layout only; app/modes/talk.py wires it."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPushButton

from ..views.live_text import LiveTextView
from ..views.mode_parts import DevicePicker, ModelPicker, SessionPage, big_button
from ..views.persona_panel import PersonaPanel


class TalkPage(SessionPage):
    def __init__(self, model_picker: ModelPicker, device_picker: DevicePicker, persona_panel: PersonaPanel,
                 image_panel=None) -> None:
        super().__init__(model_picker, device_picker, [("You", "Your voice level"), ("Moshi", "Moshi's voice level")],
                         "Conversation state", ("rtf", "latency", "dropped", "underruns"))
        self.input_combo = device_picker.input_combo
        self.output_combo = device_picker.output_combo
        self.refresh_button = device_picker.refresh_button
        self.models_button = model_picker.models_button
        outer = self.outer
        self.aec_check = QCheckBox("Echo cancellation")
        self.aec_check.setToolTip("Remove Moshi's own voice from the microphone (for laptop speakers)")
        device_picker.grid.addWidget(self.aec_check, 1, 2)
        self.persona_panel = persona_panel  # PersonaPlex models only (app/persona_picker.py)
        outer.addWidget(persona_panel)
        self.image_panel = image_panel  # MoshiVis models only (app/image_picker.py)
        if image_panel is not None:
            outer.addWidget(image_panel)

        self.transcript_view = LiveTextView("Transcript", "Moshi's words appear here during a conversation.")
        if image_panel is not None:  # the picture MoshiVis sees, beside the transcript
            body = QHBoxLayout()
            body.addWidget(self.transcript_view, 1)
            body.addWidget(image_panel.preview)
            outer.addLayout(body, 1)
        else:
            outer.addWidget(self.transcript_view, 1)
        self.input_meter, self.output_meter = self.meters.meters
        outer.addWidget(self.meters)

        controls = QHBoxLayout()
        controls.setSpacing(12)
        self.start_button = big_button("Start conversation")
        self.record_check = QCheckBox("Record")
        self.record_check.setToolTip("Save both voices and the transcript in the recordings folder "
                                     "(listed in History)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the last conversation's recording and transcript")
        controls.addStretch(1)
        controls.addWidget(self.start_button)
        controls.addWidget(self.record_check)
        controls.addWidget(self.export_button)
        controls.addStretch(1)
        outer.addLayout(controls)

        self.rtf_label, self.latency_label, self.dropped_label, self.underruns_label = (
            self.status.labels[k] for k in ("rtf", "latency", "dropped", "underruns"))
        self.latency_label.setToolTip("From your voice reaching the microphone to Moshi's answer being queued")
        outer.addWidget(self.status)

    def set_running(self, running: bool, busy: bool = False) -> None:
        """running: a conversation is on (button says Stop); busy: starting/stopping (disabled)."""
        self.start_button.setText("Stop conversation" if running else "Start conversation")
        self.start_button.setEnabled(not busy)
        self.lock_setup(running or busy, self.aec_check)
        self.persona_panel.set_locked(running or busy)
        if self.image_panel is not None:  # changeable during a conversation, not while it starts
            self.image_panel.setEnabled(not busy)

    def transcript_text(self) -> str:
        return self.transcript_view.toPlainText()
