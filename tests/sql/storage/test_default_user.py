"""The default user of an SQL storage is made once, however many threads ask for it at the same time."""

from __future__ import annotations

import threading

from provstore.testing.profiles import TEST_USER_EMAIL


def test_threads_share_one_default_user(storage):
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    seen: list[object] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait()
            seen.append(storage.default_user)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(seen) == threads_count
    assert all(user is seen[0] for user in seen), "threads got default users of their own"
    assert storage.default_user is seen[0]
    assert seen[0].email == TEST_USER_EMAIL
    assert storage.get_info()["entities"]["users"] == 1
