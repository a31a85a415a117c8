"""The two-step benchmark: the task's signature over seeds, time per seed, throughput.

Each seed trains from scratch with the config (default ``configs/two_step.py``) and is
tested on ``--episodes`` episodes with frozen weights; a seed passes when the three
signature targets hold and it trained within ``--time_limit`` seconds, start-up (the
import of TensorFlow, which every ``harlow.train`` process pays) included. Before the
seeds, ``measure_throughput`` times training updates on the trainer's own set-up next
to the pure-TensorFlow forward+backward pass of the same LSTM on a segment of the same
shape: the ratio of the two tells how close training comes to the bare model's cost on
whatever machine it runs. The pure pass runs in TensorFlow's graph executor (its
fastest form there, the steps unrolled into the graph) even when the config compiles
the update with XLA (``train.jit_compile``).
"""

from __future__ import annotations

import time

import ml_collections

from harlow.benchmarks.common import Options, git_commit, load_config, write_report
from harlow.benchmarks.learning import startup_seconds, train_and_test

TWO_STEP_TARGETS = {
    "rewarded_common_minus_rare": 0.20,
    "unrewarded_rare_minus_common": 0.20,
    "reward_per_trial": 0.63,
}
THROUGHPUT_TARGET = 250_000  # env steps/s of training on an idle 2-core machine
TIME_LIMIT = 30.0  # seconds per seed, start-up included
EPISODES = 300  # test episodes per seed


def measure_throughput(config: ml_collections.ConfigDict, updates: int) -> dict[str, float]:
    """Env steps/s of training, split into acting and learning (unless one call does
    both, ``harlow.learner.act_and_learn``), and the pure LSTM cost.

        Training is ``harlow.learner.trainer``'s own set-up and update step. The pure cost is a
        compiled forward+backward pass of the same agent unroll on a segment of the same
        shape, with no environment, no sampling and no optimizer. The two alternate, update
        by update, so that a machine shared with other work slows both alike.
    """
    import tensorflow as tf

    from harlow.learner.trainer import training_setup

    length = config.train.unroll_length
    steps = config.train.num_envs * length
    with training_setup(config) as training:
        agent = training.agent
        fused = training.act_and_learn is not None

        @tf.function
        def forward_backward(seg):
            with tf.GradientTape() as tape:
                out, _ = agent.unroll(
                    seg.observations,
                    seg.prev_actions,
                    seg.prev_rewards,
                    seg.first,
                    seg.initial_state,
                )
                loss = tf.reduce_sum(out.policy_logits) + tf.reduce_sum(out.value)
            return tape.gradient(loss, agent.trainable_variables)

        segment = training.actor.collect(length)
        forward_backward(segment)  # compile both outside the timing
        training.update(length)
        # Interleaved, so that both see the same load on a shared machine.
        act_time = learn_time = pure_time = 0.0
        for _ in range(updates):
            metrics, acting, learn_seconds = training.update(length)
            float(metrics["losses/total"])
            act_time += acting.policy + acting.env
            learn_time += learn_seconds
            start = time.perf_counter()
            float(forward_backward(segment)[0][0, 0])
            pure_time += time.perf_counter() - start
    train_sps = updates * steps / (act_time + learn_time)
    pure_sps = updates * steps / pure_time
    return {
        "train_env_steps_per_second": train_sps,
        "acting_fraction": act_time / (act_time + learn_time),
        "learning_fraction": learn_time / (act_time + learn_time),
        "pure_lstm_forward_backward_steps_per_second": pure_sps,
        "train_over_pure_ratio": train_sps / pure_sps,
        "num_envs": config.train.num_envs,
        "unroll_length": length,
        "lstm_units": config.agent.lstm_units,
        "jit_compile": bool(config.train.get("jit_compile", False)),
        "act_and_learn": fused,
    }


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:+.3f}"


def run(options: Options) -> bool:
    """Trains and tests every seed; prints the table; returns whether all targets hold."""
    startup = startup_seconds()
    import tensorflow as tf

    from harlow.tasks import get_task

    base = load_config(options, "two_step.py")
    if base.task != "two_step":
        raise ValueError(f"the two_step benchmark needs a two-step config, got task {base.task!r}")
    print(
        f"two_step benchmark: seeds {options.seeds}, commit {git_commit()}, "
        f"TensorFlow {tf.__version__}, start-up (Python and imports) {startup:.1f} s, "
        "counted in each seed's time",
        flush=True,
    )
    throughput = measure_throughput(base, options.throughput_updates)
    if throughput["act_and_learn"]:
        split = "acting and learning in one call"
    else:
        split = (
            f"acting {throughput['acting_fraction']:.0%}, "
            f"learning {throughput['learning_fraction']:.0%}"
        )
    print(
        f"throughput ({base.train.num_envs} envs x {base.train.unroll_length} steps): "
        f"{throughput['train_env_steps_per_second']:,.0f} env steps/s training"
        f"{' (compiled by XLA)' if throughput['jit_compile'] else ''} ({split}); "
        f"pure TF LSTM forward+backward "
        f"{throughput['pure_lstm_forward_backward_steps_per_second']:,.0f} steps/s; "
        f"ratio {throughput['train_over_pure_ratio']:.2f}",
        flush=True,
    )
    rows = []
    time_limit = options.time_limit or TIME_LIMIT
    for run in train_and_test(base, options, startup, options.episodes or EPISODES):
        summary, seconds = run.summary, run.seconds
        measured = {
            **summary["model_based_indices"],
            "reward_per_trial": summary["reward_per_trial"],
        }
        checks = {name: measured[name] for name in TWO_STEP_TARGETS}
        signature = all(v is not None and v >= TWO_STEP_TARGETS[k] for k, v in checks.items())
        in_time = seconds <= time_limit
        rows.append(
            {
                "seed": run.seed,
                "train_seconds": seconds,
                "signature": signature,
                "in_time": in_time,
                "passed": signature and in_time,
                **checks,
                "summary": summary,
                "train_steps_per_second": run.steps_per_second,
            }
        )
        print(
            f"seed {run.seed}: trained {seconds:5.1f}s incl. start-up ({run.steps_per_second:,.0f} "
            f"steps/s) | rc-rr {_fmt(checks['rewarded_common_minus_rare'])} "
            f"ur-uc {_fmt(checks['unrewarded_rare_minus_common'])} "
            f"reward/trial {checks['reward_per_trial']:.3f} | signature "
            f"{'yes' if signature else 'NO'}, time {'ok' if in_time else 'OVER'} | "
            f"{'PASS' if signature and in_time else 'FAIL'}",
            flush=True,
        )
    figure = options.workdir / "two_step_seeds.png"
    get_task("two_step").plot_seeds([r["summary"] for r in rows], figure)
    passes = sum(r["passed"] for r in rows)
    path = write_report(
        options,
        {
            "targets": {
                **TWO_STEP_TARGETS,
                "train_seconds": time_limit,
                "train_env_steps_per_second": THROUGHPUT_TARGET,
            },
            "startup_seconds": startup,
            "throughput": throughput,
            "seeds": rows,
            "signature_seeds": sum(r["signature"] for r in rows),
            "passed_seeds": passes,
        },
    )
    fast = throughput["train_env_steps_per_second"] >= THROUGHPUT_TARGET
    print(
        f"signature in {sum(r['signature'] for r in rows)} of {len(rows)} seeds, "
        f"{passes} of {len(rows)} also within {time_limit:.0f} s; throughput "
        f"{'meets' if fast else 'below'} {THROUGHPUT_TARGET:,} steps/s; figure {figure}; "
        f"report {path}"
    )
    return passes == len(rows) and fast
