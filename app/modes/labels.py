"""The app's names for its modes, by mode id (the activity a model kind's sessions record, see
moshi_mlx/kinds): also for recordings of modes this build does not have. Labels live in the app."""

from __future__ import annotations

MODE_LABELS: dict[str, str] = {
    "talk": "Talk", "transcribe": "Transcribe", "translate": "Translate", "read": "Read aloud",
    "assistant": "Assistant"}


def mode_label(mode_id: str) -> str:
    return MODE_LABELS.get(mode_id, mode_id.capitalize())


def kind_mode_label(kind: str) -> str:
    """The label of the mode that runs a model kind ("stt" -> "Transcribe")."""
    from moshi_mlx.kinds import KINDS

    return mode_label(KINDS[kind].mode)
