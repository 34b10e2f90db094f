"""Settings' "Other devices" page: the "Let other devices connect" switch, where it listens (port,
this Mac or the network with its token, TLS, the web page to serve), and while on: its state, the addresses to open and a
QR code of the first one. Acts at once (not on the dialog's OK): app/sharing.py does the work."""

from __future__ import annotations

import segno
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QRadioButton, QSpinBox, QVBoxLayout,
                               QWidget)

INTRO = ("Kyutai's clients talk with Talk's model on this Mac: its web page on a phone or another "
         "computer (choose its folder below), or <code>python -m moshi.client</code>. One device "
         "at a time, and not while a session runs in the app.")
PLAIN_HTTP = ("Without TLS certificates, the token, your voice and Moshi's answers cross the "
              "network unencrypted, and browsers on other devices allow the microphone only on "
              "https pages. Choose a folder holding cert.pem and key.pem to encrypt.")


def qr_pixmap(text: str, scale: int = 4) -> QPixmap:
    """A QR code of `text` (segno, as PNG bytes)."""
    import io

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


def _secondary(text: str) -> QLabel:
    w = QLabel(text)
    w.setWordWrap(True)
    w.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return w


def _field(name: str) -> QLineEdit:
    w = QLineEdit()
    w.setReadOnly(True)
    w.setAccessibleName(name)
    return w


def _button(text: str, name: str) -> QPushButton:
    w = QPushButton(text)
    w.setAccessibleName(name)
    return w


def _row(field: QLineEdit, *buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(field, 1)
    for b in buttons:
        row.addWidget(b)
    return row


class SharingPanel(QWidget):
    def __init__(self, sharing, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sharing = sharing
        self.setMinimumWidth(500)  # the wrapped texts and the QR code side by side, readable
        layout = QVBoxLayout(self)
        self.switch = QCheckBox("Let other devices connect")
        self.switch.setAccessibleName("Let other devices connect")
        font = self.switch.font()
        font.setBold(True)
        self.switch.setFont(font)
        layout.addWidget(self.switch)
        intro = _secondary(INTRO)
        intro.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(intro)

        self.options = QWidget()
        form = QFormLayout(self.options)
        form.setContentsMargins(0, 0, 0, 0)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setAccessibleName("Port")
        self.only_mac = QRadioButton("Only this Mac")
        self.network = QRadioButton("Devices on my network (with a token)")
        self.only_mac.setAccessibleName("Only this Mac")
        self.network.setAccessibleName("Devices on my network")
        scope = QButtonGroup(self)
        scope.addButton(self.only_mac)
        scope.addButton(self.network)
        scope_box = QVBoxLayout()
        scope_box.addWidget(self.only_mac)
        scope_box.addWidget(self.network)
        self.token = _field("Token")
        self.regenerate = _button("Regenerate", "Regenerate the token")
        token_row = _row(self.token, self.regenerate)
        self.tls_dir, self.choose_tls, self.clear_tls, tls_row = self._folder_choice(
            "sharing_tls_dir", "TLS certificates folder", "None: plain http",
            "Folder with cert.pem and key.pem")
        self.web_dir, self.choose_web, self.clear_web, web_row = self._folder_choice(
            "sharing_web_dir", "Web page folder", "None: Kyutai's apps only, no web page",
            "Kyutai's web UI, built (its dist folder)")
        form.addRow("Port", self.port)
        form.addRow("Who", scope_box)
        form.addRow("Token", token_row)
        self._token_label = form.labelForField(token_row)
        form.addRow("TLS", tls_row)
        form.addRow("Web page", web_row)
        self.locked_note = _secondary("Turn it off to change these.")
        form.addRow(self.locked_note)
        layout.addWidget(self.options)
        self.warning = QLabel(PLAIN_HTTP)  # outside the options: as readable while it is on
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("Warning: unencrypted")
        layout.addWidget(self.warning)

        self.state = QLabel()
        self.state.setWordWrap(True)
        self.state.setFont(font)  # bold, as the switch
        self.state.setAccessibleName("Sharing state")
        self.addresses = QLabel()
        self.addresses.setWordWrap(True)
        self.addresses.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.addresses.setAccessibleName("Addresses to open on the other device")
        self.addresses.setFont(QFont("Menlo, Monaco, monospace"))
        self.qr = QLabel()
        self.qr.setAccessibleName("QR code of the address")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        status = QHBoxLayout()  # the QR code beside the words: fits an 800x600 screen
        words = QVBoxLayout()
        words.addWidget(self.state)
        words.addWidget(self.addresses)
        words.addStretch(1)
        status.addLayout(words, 1)
        status.addWidget(self.qr)
        layout.addLayout(status)
        layout.addStretch(1)

        self.switch.toggled.connect(self._switched)
        self.port.editingFinished.connect(lambda: sharing.configure(sharing_port=self.port.value()))
        self.network.toggled.connect(lambda on: sharing.configure(sharing_network=bool(on)))
        self.regenerate.clicked.connect(sharing.regenerate_token)
        sharing.changed.connect(self.refresh)
        self.refresh()

    def _switched(self, on: bool) -> None:
        if on == self.sharing.active:
            return
        if on:
            if self.port.value() != self.sharing.shell.settings.sharing_port:
                self.sharing.configure(sharing_port=self.port.value())
            self.sharing.turn_on()
        else:
            self.sharing.turn_off()
        self.refresh()  # a refused start puts the switch back

    def _folder_choice(self, key: str, name: str, placeholder: str, title: str):
        """A folder setting (`key`): its field, Choose… and Clear buttons, and their row."""
        field = _field(name)
        field.setPlaceholderText(placeholder)
        choose = _button("Choose…", f"Choose the {name.lower()}")
        clear = _button("Clear", f"No {name.lower()}")

        def chosen() -> None:
            folder = QFileDialog.getExistingDirectory(self, title, field.text())
            if folder:
                self.sharing.configure(**{key: folder})

        choose.clicked.connect(chosen)
        clear.clicked.connect(lambda: self.sharing.configure(**{key: ""}))
        return field, choose, clear, _row(field, choose, clear)

    def refresh(self) -> None:
        """Show the settings and the state of app/sharing.py's Sharing."""
        s, sharing = self.sharing.shell.settings, self.sharing
        for w, value in ((self.switch, sharing.active), (self.network, s.sharing_network),
                         (self.only_mac, not s.sharing_network)):
            w.blockSignals(True)
            w.setChecked(value)
            w.blockSignals(False)
        if not self.port.hasFocus():
            self.port.setValue(s.sharing_port)
        self.token.setText(s.sharing_token)
        self.tls_dir.setText(s.sharing_tls_dir)
        self.web_dir.setText(s.sharing_web_dir)
        for w in (self.token, self.regenerate, self._token_label):
            w.setVisible(s.sharing_network)
        self.warning.setVisible(s.sharing_network and not s.sharing_tls_dir)
        self.options.setEnabled(not sharing.active)
        self.locked_note.setVisible(sharing.active)
        self.state.setText(sharing.status)
        self.addresses.setText("\n".join(sharing.urls))
        self.addresses.setVisible(bool(sharing.urls))
        if sharing.urls:
            self.qr.setPixmap(qr_pixmap(sharing.urls[0]))
            self.qr.setToolTip(sharing.urls[0])
        else:
            self.qr.clear()
        self.qr.setVisible(bool(sharing.urls))
