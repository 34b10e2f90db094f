"""`make test` runs pytest-xdist with `--dist loadgroup`: the tests of one `xdist_group` (the
frozen-app tests, which share a ~100 s bundle build) go to one worker. pytest-xdist marks them by a
suffix on their node ids; pytest 9.2 broke that silently (pytest-xdist#1386: the groups were spread
over the workers and each built the bundle), hence the pin in pyproject.toml and this check."""


def test_grouped_tests_keep_their_group(request):
    if not getattr(request.config.option, "loadgroup", False):
        return  # not distributed by group (one process, or another --dist): nothing to keep
    grouped = [item for item in request.session.items if item.get_closest_marker("xdist_group") is not None]
    lost = [item.nodeid for item in grouped if "@" not in item.nodeid]
    assert not lost, f"pytest-xdist's loadgroup does not group these tests: {lost[:3]}"
