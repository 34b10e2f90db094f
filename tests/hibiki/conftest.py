import pytest


@pytest.fixture(scope="session")
def hibiki_home(tmp_path_factory, demo_models):
    """A folder holding the demo-hibiki model, built once for the session."""
    return demo_models.home(tmp_path_factory.mktemp("hibiki-home"), "demo-hibiki")


@pytest.fixture(scope="session")
def hibiki_models(tmp_path_factory):
    """(layout, route) -> (folder, Kyutai's PyTorch LM, Kyutai's Mimi): tiny Hibiki models in the
    PyTorch release form whose end of speech is routed (tests/hibiki/models.py), built once."""
    from .models import write_hibiki_folder

    built = {}

    def get(layout: str, route: str = "eos"):
        if (layout, route) not in built:
            built[layout, route] = write_hibiki_folder(tmp_path_factory.mktemp(f"{layout}-{route}"),
                                                       layout, route=route)
        return built[layout, route]

    return get
