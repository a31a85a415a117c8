"""LSTM actor-critic: the meta-RL agent of Wang et al. (2018).

The agent sees, at each step, the observation, the previous action (one-hot)
and the previous reward; that input is built in exactly one place,
``ActorCritic.core_input``. Its recurrent state is reset wherever an episode
starts (``first`` is true), so one unroll can span episode boundaries.

Optionally, a convolutional ``PatchEncoderSpec`` encoder embeds image-patch
observations (several grayscale patches, flattened) with one set of weights
shared by all patches, and the concatenated embeddings replace the raw
observation in the core input.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import tensorflow as tf

_PADDINGS = ("VALID", "SAME")
_LAYER_NORM_EPSILON = 1e-5
_TORSO_STREAM = 100  # stateless-seed stream of the torso (the encoder uses 2, 3, ...)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class LSTMState(NamedTuple):
    """Hidden and cell state, each ``[batch, units]``."""

    h: tf.Tensor
    c: tf.Tensor


class AgentOutput(NamedTuple):
    """Policy logits ``[..., num_actions]`` and value ``[...]``."""

    policy_logits: tf.Tensor
    value: tf.Tensor


@dataclasses.dataclass(frozen=True)
class PatchEncoderSpec:
    """A siamese conv encoder for observations made of square grayscale patches.

    The observation is ``num_patches`` patches of ``patch_size x patch_size``
    pixels, flattened patch after patch (``np.stack(patches).ravel()``). Each
    patch goes through the same conv layers (``filters[i]`` channels,
    ``kernel_sizes[i]`` square kernels, ``strides[i]`` strides, ``padding``,
    ReLU), is flattened and projected to ``embedding_size`` features (ReLU);
    with ``layer_norm`` the projection is layer-normalized (learned gain and
    offset) before the ReLU, which keeps the embeddings at a fixed scale
    whatever the initial weights make of the pixels. The patch embeddings are
    concatenated in patch order. With
    ``pairwise_differences`` the absolute differences of every pair of patch
    embeddings (i < j, in order) follow: the siamese comparison that tells
    whether two patches show the same image.
    """

    num_patches: int = 2
    patch_size: int = 24
    filters: tuple[int, ...] = (16, 32)
    kernel_sizes: tuple[int, ...] = (5, 3)
    strides: tuple[int, ...] = (2, 2)
    embedding_size: int = 64
    padding: str = "VALID"
    pairwise_differences: bool = False
    layer_norm: bool = False

    def __post_init__(self) -> None:
        for field in ("num_patches", "patch_size", "embedding_size"):
            value = getattr(self, field)
            if not _is_positive_int(value):
                raise ValueError(f"PatchEncoderSpec.{field} must be a positive int, got {value!r}")
        for field in ("filters", "kernel_sizes", "strides"):
            values = getattr(self, field)
            if (
                not isinstance(values, (tuple, list))
                or not values
                or not all(_is_positive_int(v) for v in values)
            ):
                raise ValueError(
                    f"PatchEncoderSpec.{field} must be a non-empty sequence of positive ints, "
                    f"got {values!r}"
                )
            # Lists (e.g. from a config file) become tuples, so the spec stays hashable.
            object.__setattr__(self, field, tuple(values))
        if not len(self.filters) == len(self.kernel_sizes) == len(self.strides):
            raise ValueError(
                "PatchEncoderSpec.filters, kernel_sizes and strides must have equal lengths, "
                f"got {len(self.filters)}, {len(self.kernel_sizes)} and {len(self.strides)}"
            )
        if self.padding not in _PADDINGS:
            raise ValueError(
                f"PatchEncoderSpec.padding must be one of {_PADDINGS}, got {self.padding!r}"
            )
        self.spatial_sizes()  # Raises if the conv stack leaves no pixels.

    def spatial_sizes(self) -> tuple[int, ...]:
        """Side length of the feature map after each conv layer.

        Raises ``ValueError`` if a layer would leave no pixels (a kernel larger
        than its ``VALID``-padded input).
        """
        sizes = []
        size = self.patch_size
        for layer, (kernel, stride) in enumerate(zip(self.kernel_sizes, self.strides, strict=True)):
            if self.padding == "SAME":
                size = math.ceil(size / stride)
            elif size < kernel:
                raise ValueError(
                    f"PatchEncoderSpec.kernel_sizes[{layer}]={kernel} exceeds the {size}x{size} "
                    f"feature map it convolves (patch_size={self.patch_size}, "
                    f"strides={self.strides}, padding='VALID'): the conv stack must leave "
                    "a spatial size of at least 1"
                )
            else:
                size = (size - kernel) // stride + 1
            sizes.append(size)
        return tuple(sizes)

    @property
    def observation_size(self) -> int:
        """Length of the flat observation: ``num_patches * patch_size**2``."""
        return self.num_patches * self.patch_size**2

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The patch pairs compared with ``pairwise_differences`` (none without it)."""
        if not self.pairwise_differences:
            return []
        return [(i, j) for i in range(self.num_patches) for j in range(i + 1, self.num_patches)]

    @property
    def feature_size(self) -> int:
        """Length of the features: patch embeddings, then pairwise differences."""
        return (self.num_patches + len(self.pairs)) * self.embedding_size


def _glorot(shape: tuple[int, int], seed: int) -> tf.Tensor:
    limit = (6.0 / (shape[0] + shape[1])) ** 0.5
    return tf.random.stateless_uniform(shape, seed=[seed, 0], minval=-limit, maxval=limit)


def _he_uniform(shape: tuple[int, ...], seed: int, stream: int) -> tf.Tensor:
    """He-uniform init (fan-in is all but the last dim), for layers followed by a ReLU."""
    limit = (6.0 / math.prod(shape[:-1])) ** 0.5
    return tf.random.stateless_uniform(shape, seed=[seed, stream], minval=-limit, maxval=limit)


def _orthogonal(rows: int, cols: int, seed: int) -> tf.Tensor:
    matrix = tf.random.stateless_normal((max(rows, cols), min(rows, cols)), seed=[seed, 1])
    q, r = tf.linalg.qr(matrix)
    q *= tf.sign(tf.linalg.diag_part(r))
    return q if rows >= cols else tf.transpose(q)


class ActorCritic(tf.Module):
    """LSTM actor-critic with policy and value heads and an optional patch encoder.

    Without ``encoder`` the raw observation enters the LSTM. With a
    ``PatchEncoderSpec``, ``observation_size`` must equal its
    ``observation_size`` and the concatenated patch embeddings enter instead.
    """

    def __init__(
        self,
        observation_size: int,
        num_actions: int,
        lstm_units: int,
        seed: int = 0,
        name: str = "actor_critic",
        encoder: PatchEncoderSpec | None = None,
        torso_units: int = 0,
    ) -> None:
        super().__init__(name=name)
        if torso_units < 0:
            raise ValueError(f"torso_units must be >= 0, got {torso_units}")
        if encoder is not None and observation_size != encoder.observation_size:
            raise ValueError(
                f"observation_size={observation_size} does not match the patch encoder's "
                f"num_patches * patch_size**2 = {encoder.num_patches} * "
                f"{encoder.patch_size}**2 = {encoder.observation_size}"
            )
        self.observation_size = observation_size
        self.num_actions = num_actions
        self.lstm_units = lstm_units
        self.encoder = encoder
        self.torso_units = torso_units
        feature_size = observation_size if encoder is None else encoder.feature_size
        input_size = feature_size + num_actions + 1
        units = lstm_units
        with self.name_scope:
            if encoder is not None:
                self._build_encoder(encoder, seed)
            if torso_units:
                self.torso_kernel = tf.Variable(
                    _he_uniform((input_size, torso_units), seed, _TORSO_STREAM), name="w_torso"
                )
                self.torso_bias = tf.Variable(tf.zeros(torso_units), name="b_torso")
                input_size = torso_units
            self.input_kernel = tf.Variable(_glorot((input_size, 4 * units), seed), name="w_x")
            recurrent = tf.concat([_orthogonal(units, units, seed + 1 + k) for k in range(4)], 1)
            self.recurrent_kernel = tf.Variable(recurrent, name="w_h")
            # Gate order i, f, g, o; forget-gate bias 1 keeps memory early in training.
            bias = tf.concat([tf.zeros(units), tf.ones(units), tf.zeros(2 * units)], 0)
            self.lstm_bias = tf.Variable(bias, name="b")
            self.policy_kernel = tf.Variable(
                0.01 * _glorot((units, num_actions), seed + 10), name="w_pi"
            )
            self.policy_bias = tf.Variable(tf.zeros(num_actions), name="b_pi")
            self.value_kernel = tf.Variable(_glorot((units, 1), seed + 11), name="w_v")
            self.value_bias = tf.Variable(tf.zeros(1), name="b_v")

    def _build_encoder(self, spec: PatchEncoderSpec, seed: int) -> None:
        # Streams 2+ of the stateless seed: the LSTM and heads use streams 0 and 1.
        self.conv_kernels = []
        self.conv_biases = []
        channels = 1
        for layer, (filters, kernel) in enumerate(
            zip(spec.filters, spec.kernel_sizes, strict=True)
        ):
            shape = (kernel, kernel, channels, filters)
            self.conv_kernels.append(
                tf.Variable(_he_uniform(shape, seed, 2 + layer), name=f"w_conv{layer}")
            )
            self.conv_biases.append(tf.Variable(tf.zeros(filters), name=f"b_conv{layer}"))
            channels = filters
        flat_size = spec.spatial_sizes()[-1] ** 2 * channels
        self.embedding_kernel = tf.Variable(
            _he_uniform((flat_size, spec.embedding_size), seed, 2 + len(spec.filters)),
            name="w_embed",
        )
        self.embedding_bias = tf.Variable(tf.zeros(spec.embedding_size), name="b_embed")
        if spec.layer_norm:
            self.embedding_norm_gain = tf.Variable(tf.ones(spec.embedding_size), name="g_embed")
            self.embedding_norm_offset = tf.Variable(tf.zeros(spec.embedding_size), name="o_embed")

    def observation_features(self, observation: tf.Tensor) -> tf.Tensor:
        """The observation part of the core input, ``[..., features]``.

        Without an encoder this is the observation as float32. With one, all
        patches of all leading positions (e.g. ``[T, B]``) go through the conv
        stack as a single batch, and each observation's patch embeddings are
        concatenated in patch order.
        """
        observation = tf.cast(observation, tf.float32)
        spec = self.encoder
        if spec is None:
            return observation
        size = spec.patch_size
        x = tf.reshape(observation, [-1, size, size, 1])
        for kernel, bias, stride in zip(
            self.conv_kernels, self.conv_biases, spec.strides, strict=True
        ):
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, stride, spec.padding) + bias)
        x = tf.reshape(x, [-1, self.embedding_kernel.shape[0]])
        projected = tf.matmul(x, self.embedding_kernel) + self.embedding_bias
        if spec.layer_norm:
            mean, variance = tf.nn.moments(projected, axes=[-1], keepdims=True)
            projected = (projected - mean) * tf.math.rsqrt(variance + _LAYER_NORM_EPSILON)
            projected = projected * self.embedding_norm_gain + self.embedding_norm_offset
        embeddings = tf.nn.relu(projected)
        embeddings = tf.reshape(embeddings, [-1, spec.num_patches, spec.embedding_size])
        parts = [embeddings[:, k] for k in range(spec.num_patches)]
        parts += [tf.abs(embeddings[:, i] - embeddings[:, j]) for i, j in spec.pairs]
        leading = tf.shape(observation)[:-1]
        features = tf.reshape(tf.concat(parts, -1), tf.concat([leading, [spec.feature_size]], 0))
        # Keep the static leading dims (the static unroll needs T).
        return tf.ensure_shape(features, observation.shape[:-1].concatenate(spec.feature_size))

    def initial_state(self, batch_size: int) -> LSTMState:
        """Zero recurrent state for ``batch_size`` episodes."""
        zeros = tf.zeros((batch_size, self.lstm_units), tf.float32)
        return LSTMState(zeros, zeros)

    def core_input(
        self, observation: tf.Tensor, prev_action: tf.Tensor, prev_reward: tf.Tensor
    ) -> tf.Tensor:
        """The meta-RL input: observation features, previous action one-hot, previous reward.

        The observation features are ``observation_features(observation)``.
        ``prev_action`` is -1 at the start of an episode, which one-hot encodes
        to all zeros.
        """
        action_one_hot = tf.one_hot(prev_action, self.num_actions, dtype=tf.float32)
        reward = tf.expand_dims(tf.cast(prev_reward, tf.float32), -1)
        features = self.observation_features(observation)
        return tf.concat([features, action_one_hot, reward], -1)

    def _lstm_input(self, core_input: tf.Tensor) -> tf.Tensor:
        """The core input, through the ReLU torso layer when there is one."""
        if not self.torso_units:
            return core_input
        return tf.nn.relu(tf.tensordot(core_input, self.torso_kernel, 1) + self.torso_bias)

    def _cell(self, projected_input: tf.Tensor, state: LSTMState) -> LSTMState:
        z = projected_input + tf.matmul(state.h, self.recurrent_kernel)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * state.c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return LSTMState(h, c)

    def _heads(self, h: tf.Tensor) -> AgentOutput:
        logits = tf.matmul(h, self.policy_kernel) + self.policy_bias
        value = tf.squeeze(tf.matmul(h, self.value_kernel) + self.value_bias, -1)
        return AgentOutput(logits, value)

    @staticmethod
    def _reset_where_first(first: tf.Tensor, state: LSTMState) -> LSTMState:
        keep = 1.0 - tf.cast(first, tf.float32)[:, None]
        return LSTMState(state.h * keep, state.c * keep)

    def step(
        self,
        observation: tf.Tensor,
        prev_action: tf.Tensor,
        prev_reward: tf.Tensor,
        first: tf.Tensor,
        state: LSTMState,
    ) -> tuple[AgentOutput, LSTMState]:
        """One step for a batch: inputs ``[B, ...]``; resets state where ``first``."""
        state = self._reset_where_first(first, state)
        x = self._lstm_input(self.core_input(observation, prev_action, prev_reward))
        state = self._cell(tf.matmul(x, self.input_kernel) + self.lstm_bias, state)
        return self._heads(state.h), state

    def unroll(
        self,
        observations: tf.Tensor,
        prev_actions: tf.Tensor,
        prev_rewards: tf.Tensor,
        first: tf.Tensor,
        state: LSTMState,
        python_loop: bool = True,
    ) -> tuple[AgentOutput, LSTMState]:
        """Unrolls over time-major inputs ``[T, B, ...]``; outputs are ``[T, B, ...]``.

        With ``python_loop`` and a static ``T``, a Python loop writes every step into
        the graph: the fastest form for TensorFlow's graph executor on CPU. Otherwise
        the steps run in a while loop, which is what XLA (``jit_compile``) compiles
        quickly and runs fastest.
        """
        x = self._lstm_input(self.core_input(observations, prev_actions, prev_rewards))
        projected = tf.einsum("tbi,ij->tbj", x, self.input_kernel) + self.lstm_bias
        static_steps = projected.shape[0]
        if static_steps is not None and python_loop:
            hidden = []
            for t in range(static_steps):
                state = self._cell(projected[t], self._reset_where_first(first[t], state))
                hidden.append(state.h)
            return self._heads(tf.stack(hidden)), state
        steps = tf.shape(projected)[0]
        hidden_array = tf.TensorArray(tf.float32, size=steps)
        for t in tf.range(steps):
            state = self._cell(projected[t], self._reset_where_first(first[t], state))
            hidden_array = hidden_array.write(t, state.h)
        return self._heads(hidden_array.stack()), state
