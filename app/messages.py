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


# kind -> (title, text, advice). A detail from the engine replaces the text, except for the device
# kinds, whose fixed text says more than the detail: there it is appended to the advice.
_ERRORS: dict[str, tuple[str, str, str]] = {
    "no_input_device": ("No microphone found",
                        "Moshi needs a microphone, and no audio input device is available.",
                        "Connect a microphone or headset, then press Refresh next to the device lists."),
    "mic_permission": ("Microphone access denied",
                       "macOS did not allow Moshi to use the microphone.",
                       f"Open {MIC_SETTINGS_PATH}, turn on access for Moshi, then start the "
                       "conversation again."),
    "device_lost": ("Audio device disconnected",
                    "An audio device stopped working during the conversation, which was stopped.",
                    "Reconnect the device or pick another one, then start again."),
    "model_load": ("The model could not be loaded", "Loading the model failed.",
                   "Open Models… to download the model again or pick another one."),
    "out_of_memory": ("Not enough memory", "The model does not fit in this Mac's memory.",
                      "Pick a smaller model (4-bit) in Models…, and close other large apps."),
    "download": ("Download failed", "The model could not be downloaded.",
                 "Check the internet connection and the free disk space, then try again. "
                 "Models already downloaded keep working offline."),
    "disk_space": ("Not enough disk space", "", "Free some space on that disk, then try again."),
    "convert": ("Conversion failed", "The checkpoint could not be converted.",
                "Check that the file is a Moshi PyTorch checkpoint."),
    "import": ("Not a model folder", "",
               "Pick a folder holding the model's .safetensors weights and tokenizer files."),
    "export": ("Export failed", "", "Pick another folder and try again."),
    "model_kind": ("This model does not fit this mode", "",
                   "Pick a model of the right kind in Models…, or use this one in the mode named above."),
    "history": ("The recording could not be changed", "",
                "Check that the recordings folder is writable (Settings…), then try again."),
    "persona": ("This persona cannot be used", "The voice or the role cannot be used with this model.",
                "Pick another voice, or shorten the role text, then start again. The model stays loaded."),
    "image": ("This image cannot be shown", "The file is not a picture MoshiVis can use.",
              "Pick a still picture (PNG, JPEG, ...) of a reasonable size. The model stays loaded."),
    "personas_file": ("Saved personas cannot be read or saved", "",
                      "Fix or remove the file named above; voices and the model are not affected."),
    "sharing": ("Other devices cannot connect", "",
                "Check the port and the network settings in Settings…, then try again."),
    "transcribe_file": ("The file could not be transcribed", "",
                        "Check that it is an audio file (WAV, FLAC, MP3, OGG…), then try again."),
    "record_dir": ("The recordings folder cannot be used", "",
                   "Choose another recordings folder in Settings…, or turn Record off."),
    "bind": ("Other devices cannot connect: the port is in use", "",
             "Another app (or another Moshi server) uses this port. Pick another port under Let "
             "other devices connect in Settings…, or quit the other app."),
    "sharing": ("Other devices cannot connect", "",
                "Check the settings under Let other devices connect in Settings…, then turn it on "
                "again."),
    "sharing_busy": ("Another device is talking with Moshi", "",
                     "Wait until it hangs up, or turn off Let other devices connect in Settings…."),
    "read_text": ("Nothing to read", "The text box is empty.",
                  "Paste or type some text, or open a text file, then press Read Aloud."),
    "voice": ("The voice cannot be used", "",
              "Pick one of the listed voices, type another name of kyutai/tts-voices (downloaded when "
              "first used), or the path of a voice file."),
    "open_text": ("The text file cannot be opened", "", "Pick a UTF-8 text file (.txt, .md…)."),
    "tools": ("The assistant's tools cannot be set up", "",
              "Check the MCP servers' config file in Settings… > Tools."),
    "assistant": ("The assistant stopped", "", "Check its models in Models…, then start it again."),
    "playback": ("The recording cannot be played", "",
                 "Check the output device (Settings of this Mac's sound) and that the file is a WAV."),
}
_DETAIL_IN_ADVICE = {"no_input_device", "mic_permission", "device_lost"}
_UNKNOWN = ("Something went wrong", "An unexpected error occurred.",
            "The app keeps running; you can start again.")


def for_error(kind: str, detail: str) -> UserMessage:
    """The message for an engine ErrorEvent kind (or one of the app's own failures)."""
    detail = detail.strip()
    title, text, advice = _ERRORS.get(kind, _UNKNOWN)
    if kind in _DETAIL_IN_ADVICE:
        return UserMessage(title, text, advice + (f"\n\nDetails: {detail}" if detail else ""))
    return UserMessage(title, detail or text, advice)


def memory_warning(model_label: str, sentence: str) -> UserMessage:
    """Shown before loading a model that may not fit in memory."""
    return UserMessage(
        "Out of memory risk",
        f"{model_label} may not fit in this Mac's memory. {sentence}".strip(),
        "Loading it may make the Mac very slow or stop the app. Continue anyway?",
        warning_only=True)
