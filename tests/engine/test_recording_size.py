"""The recorder's WAV past 4 GiB (issue 20, item 12): the writer's byte count is driven near the
32-bit limit on a sparse file; the header turns into RF64 and the file stays readable throughout."""

import struct

import numpy as np
import soundfile as sf

from moshi_mlx.engine.recorder import IncrementalWav


def test_incremental_wav_goes_on_as_rf64_past_4_gib(tmp_path):
    path = tmp_path / "long.wav"
    wav = IncrementalWav(path, channels=2)
    wav.write(np.full((1920, 2), 0.25, np.float32))
    assert sf.info(path).format == "WAV" and sf.info(path).frames == 1920
    # ~12.4 hours later: jump to 5 frames (of 1920 x 2 x 2 bytes) before the 32-bit limit
    block = 1920 * 4
    skip = (0xFFFFFFFF - wav.HEADER_BYTES + 8) // block * block - 5 * block
    wav._f.truncate(wav.HEADER_BYTES + skip)  # sparse: nothing is written to the disk
    wav._f.seek(0, 2)
    wav._data_bytes = skip
    frames = [np.full((1920, 2), v, np.float32) for v in np.linspace(-0.5, 0.5, 10)]
    kinds = []
    for f in frames:
        wav.write(f)
        with open(path, "rb") as fh:
            head = fh.read(wav.HEADER_BYTES)
        kinds.append(head[:4])
        info = sf.info(path)  # readable after every write
        assert info.frames == wav._data_bytes // 4 and info.samplerate == 24000 and info.channels == 2
    assert kinds[:4] == [b"RIFF"] * 4 and kinds[-5:] == [b"RF64"] * 5
    assert sf.info(path).format == "RF64"
    riff, data = struct.unpack("<QQ", head[20:36])
    assert data == wav._data_bytes > 0xFFFFFFFF and riff == data + wav.HEADER_BYTES - 8
    tail, rate = sf.read(path, start=info.frames - 10 * 1920, dtype="float32")
    assert rate == 24000
    expected = np.concatenate(frames)
    np.testing.assert_allclose(tail, expected, atol=2 / 32767)  # int16 steps
    wav.close()
    assert wav.seconds > 12.4 * 3600
