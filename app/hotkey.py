"""A global shortcut on macOS: Control-Option-M starts or stops the active mode from any app (with
the Assistant's push-to-talk on, holding it talks: the key-down and the key-up both arrive).

Qt has no global shortcuts. macOS offers three ways: an event tap (CGEventTap) or an NSEvent global
monitor, both of which need the user to grant Accessibility access, and Carbon's
RegisterEventHotKey, which needs no permission: the system delivers that one key combination to
the app that registered it, wherever the focus is. We use the last, through ctypes (no extra
package). Its events arrive through the main thread's run loop, which Qt's Cocoa event dispatcher
runs, so the callback runs on the UI thread.

Elsewhere (Linux, Windows) `register()` returns False and says why; the app works without it (the
tray menu and Session > Start/Stop, Cmd+Return, remain). Only the logic around Carbon is tested
off a Mac (with a stand-in library); the Carbon calls themselves run only on macOS.
"""

from __future__ import annotations

import ctypes
import sys
import traceback
from typing import Callable

KEY_M = 0x2E  # kVK_ANSI_M
CONTROL_KEY = 1 << 12  # Carbon's controlKey modifier
OPTION_KEY = 1 << 11  # optionKey
SHORTCUT_TEXT = "Control-Option-M (⌃⌥M)"
HOTKEY_ID = 1


def four_char_code(text: str) -> int:
    """Carbon's OSType: four ASCII characters as a big-endian 32-bit number."""
    return int.from_bytes(text.encode("ascii"), "big")


K_EVENT_CLASS_KEYBOARD = four_char_code("keyb")
K_EVENT_HOTKEY_PRESSED = 5
K_EVENT_HOTKEY_RELEASED = 6
SIGNATURE = four_char_code("Mshi")


class EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


class EventHotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


# OSStatus handler(EventHandlerCallRef, EventRef, void *userData)
EventHandlerProc = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def load_carbon():
    """Carbon's hot key functions with their C signatures (macOS only)."""
    carbon = ctypes.CDLL("/System/Library/Frameworks/Carbon.framework/Carbon")
    carbon.GetApplicationEventTarget.restype = ctypes.c_void_p
    carbon.GetApplicationEventTarget.argtypes = []
    carbon.GetEventKind.restype = ctypes.c_uint32
    carbon.GetEventKind.argtypes = [ctypes.c_void_p]
    carbon.InstallEventHandler.restype = ctypes.c_int32
    carbon.InstallEventHandler.argtypes = [ctypes.c_void_p, EventHandlerProc, ctypes.c_ulong,
                                           ctypes.POINTER(EventTypeSpec), ctypes.c_void_p,
                                           ctypes.POINTER(ctypes.c_void_p)]
    carbon.RemoveEventHandler.restype = ctypes.c_int32
    carbon.RemoveEventHandler.argtypes = [ctypes.c_void_p]
    carbon.RegisterEventHotKey.restype = ctypes.c_int32
    carbon.RegisterEventHotKey.argtypes = [ctypes.c_uint32, ctypes.c_uint32, EventHotKeyID,
                                           ctypes.c_void_p, ctypes.c_uint32,
                                           ctypes.POINTER(ctypes.c_void_p)]
    carbon.UnregisterEventHotKey.restype = ctypes.c_int32
    carbon.UnregisterEventHotKey.argtypes = [ctypes.c_void_p]
    return carbon


class GlobalHotKey:
    """One registered key combination calling `callback` when pressed and `on_release` (when set)
    when released, on the UI thread."""

    def __init__(self, callback: Callable[[], None], loader: Callable = load_carbon,
                 platform: str | None = None, on_release: Callable[[], None] | None = None) -> None:
        self._callback = callback
        self.on_release = on_release
        self._loader = loader
        self._platform = platform or sys.platform
        self._carbon = None
        self._proc = None  # the C callback: kept alive as long as it is installed
        self._handler = None
        self._hotkey = None
        self.error = ""

    @property
    def registered(self) -> bool:
        return self._hotkey is not None

    def register(self, key: int = KEY_M, modifiers: int = CONTROL_KEY | OPTION_KEY) -> bool:
        """True when the shortcut is active; otherwise False and `error` says why."""
        if self.registered:
            return True
        if self._platform != "darwin":
            self.error = "global shortcuts are available on macOS only"
            return False
        try:
            carbon = self._carbon = self._loader()
            target = carbon.GetApplicationEventTarget()
            specs = (EventTypeSpec * 2)(EventTypeSpec(K_EVENT_CLASS_KEYBOARD, K_EVENT_HOTKEY_PRESSED),
                                        EventTypeSpec(K_EVENT_CLASS_KEYBOARD, K_EVENT_HOTKEY_RELEASED))
            proc = EventHandlerProc(self._on_event)
            handler = ctypes.c_void_p()
            status = carbon.InstallEventHandler(target, proc, len(specs), specs, None,
                                                ctypes.byref(handler))
            if status != 0:
                raise OSError(f"InstallEventHandler failed (OSStatus {status})")
            hotkey = ctypes.c_void_p()
            status = carbon.RegisterEventHotKey(key, modifiers, EventHotKeyID(SIGNATURE, HOTKEY_ID),
                                                target, 0, ctypes.byref(hotkey))
            if status != 0:
                carbon.RemoveEventHandler(handler)
                raise OSError(f"RegisterEventHotKey failed (OSStatus {status}): another app may "
                              f"already use {SHORTCUT_TEXT}")
        except (OSError, AttributeError) as e:
            self.error = str(e)
            return False
        self._proc, self._handler, self._hotkey = proc, handler, hotkey
        self.error = ""
        return True

    def unregister(self) -> None:
        if self._hotkey is None:
            return
        self._carbon.UnregisterEventHotKey(self._hotkey)
        self._carbon.RemoveEventHandler(self._handler)
        self._hotkey = self._handler = self._proc = None

    def _on_event(self, _call_ref, event, _user_data) -> int:
        try:
            if self._carbon.GetEventKind(event) == K_EVENT_HOTKEY_RELEASED:
                if self.on_release is not None:
                    self.on_release()
            else:
                self._callback()
        except Exception:  # noqa: BLE001 - never raise into Carbon
            traceback.print_exc()
        return 0  # noErr
