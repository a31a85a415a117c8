"""Progress bars redraw in place on a terminal and rarely in a log file."""

import io

from harlow import progress


def test_bars_redraw_rarely_off_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "output_is_terminal", lambda: False)
    bar = progress.progress_bar(total=10, file=io.StringIO())
    assert bar.mininterval == bar.maxinterval == progress.LOG_REFRESH_SECONDS
    monkeypatch.setattr(progress, "output_is_terminal", lambda: True)
    assert progress.progress_bar(total=10, file=io.StringIO()).mininterval < 1


def test_a_log_file_gets_one_line_per_refresh_not_per_update(monkeypatch):
    monkeypatch.setattr(progress, "output_is_terminal", lambda: False)
    log = io.StringIO()
    with progress.progress_bar(total=1000, file=log) as bar:
        for _ in range(1000):
            bar.update(1)
    assert log.getvalue().count("\r") <= 3  # the start, maybe one refresh, the end


def test_postfix_is_rate_limited_off_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "output_is_terminal", lambda: False)
    log = io.StringIO()
    bar = progress.progress_bar(total=2, file=log)
    updater = progress.PostfixUpdater(bar)
    for percent in range(50):
        updater.show(f"seed 0: {percent}%")
    bar.close()
    assert "seed 0: 0%" in log.getvalue()
    assert "seed 0: 49%" not in log.getvalue()


def test_postfix_follows_changes_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "output_is_terminal", lambda: True)
    log = io.StringIO()
    bar = progress.progress_bar(total=2, file=log, mininterval=0)
    updater = progress.PostfixUpdater(bar)
    for percent in range(3):
        updater.show(f"seed 0: {percent}%")
    bar.close()
    assert all(f"seed 0: {p}%" in log.getvalue() for p in range(3))
