"""core.files: atomic writes that threads of one server cannot trip over."""

import threading

from core.files import write_atomic


def test_it_writes_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a.png"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_threads_writing_one_file_at_once_all_succeed(tmp_path):
    """Two grading image requests for the same preview, in threads of one
    process: a temporary name by process id alone made one of them fail."""
    target = tmp_path / "preview.png"
    barrier = threading.Barrier(8)
    errors = []

    def write(k):
        barrier.wait()
        try:
            for _ in range(50):
                write_atomic(target, bytes([k]) * 1000)
        except OSError as exc:  # pragma: no cover - what the test guards against
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    data = target.read_bytes()
    assert len(data) == 1000 and len(set(data)) == 1  # one writer's whole content
    assert [p.name for p in tmp_path.iterdir()] == ["preview.png"]
