"""The Harlow learning benchmark: the learning set on held-out images over seeds, timed.

Each seed trains from scratch with the config (default ``configs/harlow.py``) and is
tested with frozen weights on ``--episodes`` episodes of the config's evaluation split
(held-out images by default). A seed passes when trials 2..6 are at least 97 % correct,
trial 1 is within 40-60 % (a meta-learner cannot know the first answer) and it trained
within ``--time_limit`` seconds, start-up included.
"""

from __future__ import annotations

import ml_collections

from harlow.benchmarks.common import Options, git_commit, load_config, write_report
from harlow.benchmarks.learning import startup_seconds, train_and_test

TRIALS_2_TO_6_TARGET = 0.97
TRIAL_1_RANGE = (0.40, 0.60)
TIME_LIMIT = 180.0  # seconds of training per seed on 2 cores, start-up included
EPISODES = 500  # test episodes per seed


def seed_row(seed: int, seconds: float, summary: dict, time_limit: float) -> dict:
    """One seed's numbers and which targets it meets."""
    later = summary["trials_2_to_6"]["accuracy"]
    first = summary["trial_1"]["accuracy"]
    learned = later is not None and later >= TRIALS_2_TO_6_TARGET
    guesses = first is not None and TRIAL_1_RANGE[0] <= first <= TRIAL_1_RANGE[1]
    in_time = seconds <= time_limit
    return {
        "seed": seed,
        "train_seconds": seconds,
        "trials_2_to_6": later,
        "trial_1": first,
        "trial_2_after_wrong_trial_1": summary["trial_2_after_wrong_trial_1"]["accuracy"],
        "learned": learned,
        "trial_1_at_chance": guesses,
        "in_time": in_time,
        "passed": learned and guesses and in_time,
    }


def _percent(value: float | None) -> str:
    return "  n/a" if value is None else f"{100 * value:5.1f}"


def run(options: Options) -> bool:
    """Trains and tests every seed; prints one line each; returns whether all pass."""
    startup = startup_seconds()
    from harlow.tasks import get_task

    base: ml_collections.ConfigDict = load_config(options, "harlow.py")
    if base.task != "harlow":
        raise ValueError(f"the harlow benchmark needs a Harlow config, got task {base.task!r}")
    time_limit = options.time_limit or TIME_LIMIT
    print(
        f"harlow benchmark: seeds {options.seeds}, commit {git_commit()}, "
        f"{base.env.observation} observations, {base.train.total_env_steps:,} trials, "
        f"{base.env.num_workers} environment workers; start-up {startup:.1f} s, counted in "
        "each seed's time",
        flush=True,
    )
    rows, summaries = [], []
    for run_ in train_and_test(base, options, startup, options.episodes or EPISODES):
        row = seed_row(run_.seed, run_.seconds, run_.summary, time_limit)
        row["train_trials_per_second"] = run_.steps_per_second
        rows.append(row)
        summaries.append(run_.summary)
        print(
            f"seed {row['seed']}: trained {row['train_seconds']:5.1f} s incl. start-up "
            f"({run_.steps_per_second:,.0f} trials/s) | {base.eval.split} trials 2..6 "
            f"{_percent(row['trials_2_to_6'])} %, trial 1 {_percent(row['trial_1'])} %, "
            f"trial 2 after a wrong trial 1 {_percent(row['trial_2_after_wrong_trial_1'])} % | "
            f"{'PASS' if row['passed'] else 'FAIL'}",
            flush=True,
        )
    task = get_task("harlow")
    figure = options.workdir / "harlow_seeds.png"
    task.plot_seeds(summaries, figure)
    passes = sum(row["passed"] for row in rows)
    path = write_report(
        options,
        {
            "targets": {
                "trials_2_to_6": TRIALS_2_TO_6_TARGET,
                "trial_1_range": TRIAL_1_RANGE,
                "train_seconds": time_limit,
            },
            "startup_seconds": startup,
            "seeds": rows,
            "aggregate": task.aggregate_seeds(summaries),
            "passed_seeds": passes,
        },
    )
    print(
        f"{passes} of {len(rows)} seeds pass (trials 2..6 >= {TRIALS_2_TO_6_TARGET:.0%}, "
        f"trial 1 in {TRIAL_1_RANGE[0]:.0%}-{TRIAL_1_RANGE[1]:.0%}, <= {time_limit:.0f} s); "
        f"figure {figure}; report {path}"
    )
    return passes == len(rows)
