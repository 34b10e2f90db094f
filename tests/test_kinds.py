"""Model kinds come from config.json's model_type; commands refuse the wrong kind clearly."""

import pytest

from moshi_mlx.kinds import KINDS, ModelKindError, check_kind, kind_name


def test_kind_from_model_type():
    assert kind_name({}) == "moshi"  # Kyutai's Moshi repos ship no config.json
    assert kind_name({"dim": 64}) == "moshi"
    for name in ("stt", "hibiki", "tts", "personaplex"):
        assert kind_name({"model_type": name}) == name


def test_unknown_model_type_names_the_file():
    with pytest.raises(ModelKindError, match=r"m/config.json: model_type 'vision'"):
        kind_name({"model_type": "vision"}, "m/config.json")


def test_wrong_kind_says_what_to_use():
    with pytest.raises(ModelKindError) as e:
        check_kind({"model_type": "stt"}, ("moshi", "personaplex"), "kyutai/stt-1b-en_fr", "`chat`")
    text = str(e.value)
    assert "kyutai/stt-1b-en_fr is a speech to text model" in text
    assert "python -m moshi_mlx transcribe" in text and "Transcribe mode" not in text  # labels live in the app
    with pytest.raises(ModelKindError, match="in the app.s Transcribe mode"):
        check_kind({"model_type": "stt"}, ("moshi",), "m", "`chat`", {"transcribe": "Transcribe"})
    assert check_kind({}, ("moshi",), "m", "`chat`") is KINDS["moshi"]
