import pytest


@pytest.fixture(scope="module", autouse=True)
def torch_one_thread():
    """The reference's tiny attention calls spend ~10x longer in thread hand-offs than in
    arithmetic on this shared 2-core machine: one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
