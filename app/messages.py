"""What each failure tells the user: a title, the message, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

MIC_SETTINGS_PATH = "System Settings > Privacy & Security > Microphone"


@dataclass(frozen=True)
class UserMessage:
    title: str
    text: str
    advice: str = ""
    warning_only: bool = False  # a warning the user may accept, not an error


def for_error(kind: str, detail: str) -> UserMessage:
    """The message for an engine ErrorEvent kind (or one of the app's own failures)."""
    detail = detail.strip()
    if kind == "no_input_device":
        return UserMessage(
            "No microphone found",
            "Moshi needs a microphone, and no audio input device is available.",
            "Connect a microphone or headset, then press Refresh next to the device lists."
            + (f"\n\nDetails: {detail}" if detail else ""))
    if kind == "mic_permission":
        return UserMessage(
            "Microphone access denied",
            "macOS did not allow Moshi to use the microphone.",
            f"Open {MIC_SETTINGS_PATH}, turn on access for Moshi, then start the conversation again."
            + (f"\n\nDetails: {detail}" if detail else ""))
    if kind == "device_lost":
        return UserMessage(
            "Audio device disconnected",
            "An audio device stopped working during the conversation, which was stopped.",
            "Reconnect the device or pick another one, then start again."
            + (f"\n\nDetails: {detail}" if detail else ""))
    if kind == "model_load":
        return UserMessage(
            "The model could not be loaded",
            detail or "Loading the model failed.",
            "Open Models… to download the model again or pick another one.")
    if kind == "out_of_memory":
        return UserMessage(
            "Not enough memory",
            detail or "The model does not fit in this Mac's memory.",
            "Pick a smaller model (4-bit) in Models…, and close other large apps.")
    if kind == "download":
        return UserMessage(
            "Download failed",
            detail or "The model could not be downloaded.",
            "Check the internet connection and the free disk space, then try again. "
            "Models already downloaded keep working offline.")
    if kind == "disk_space":
        return UserMessage("Not enough disk space", detail,
                           "Free some space on that disk, then try again.")
    if kind == "convert":
        return UserMessage("Conversion failed", detail or "The checkpoint could not be converted.",
                           "Check that the file is a Moshi PyTorch checkpoint.")
    if kind == "import":
        return UserMessage("Not a model folder", detail,
                           "Pick a folder holding the model's .safetensors weights and tokenizer files.")
    if kind == "export":
        return UserMessage("Export failed", detail, "Pick another folder and try again.")
    return UserMessage("Something went wrong", detail or "An unexpected error occurred.",
                       "The app keeps running; you can start again.")


def memory_warning(model_label: str, sentence: str) -> UserMessage:
    """Shown before loading a model that may not fit in memory."""
    return UserMessage(
        "Out of memory risk",
        f"{model_label} may not fit in this Mac's memory. {sentence}".strip(),
        "Loading it may make the Mac very slow or stop the app. Continue anyway?",
        warning_only=True)
