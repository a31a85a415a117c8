"""The agent a config describes, sized by its task's observation spec: no environment needed."""

from __future__ import annotations

import ml_collections

from harlow.agent.network import ActorCritic, PatchEncoderSpec
from harlow.observation_spec import ObservationSpec
from harlow.tasks import get_task

# The config fields build_agent reads besides the observation spec: they shape the agent
# whatever the task (a task's fields that shape its observation are Task.model_fields).
AGENT_FIELDS = (
    "agent.lstm_units",
    "agent.torso_units",
    "agent.encoder",
    "agent.conv_filters",
    "agent.conv_kernel_sizes",
    "agent.conv_strides",
    "agent.conv_embedding_size",
    "agent.conv_pairwise_differences",
    "agent.conv_layer_norm",
)


def build_agent(config: ml_collections.ConfigDict) -> ActorCritic:
    """The agent of ``config.agent`` for ``config.task``'s observations and actions."""
    task = get_task(config.task)
    observation = task.observation_spec(config)
    return ActorCritic(
        observation_size=observation.size,
        num_actions=task.num_actions,
        lstm_units=config.agent.lstm_units,
        seed=config.seed,
        encoder=patch_encoder_spec(config, observation),
        torso_units=config.agent.get("torso_units", 0),  # the two-step agent has none
    )


def patch_encoder_spec(
    config: ml_collections.ConfigDict, observation: ObservationSpec
) -> PatchEncoderSpec | None:
    """The conv encoder of ``config.agent.encoder == "conv"`` (``None`` otherwise).

    It encodes each image of ``observation`` (patches of the screen's images, or whole
    frames) with the same weights; raises ``ValueError`` if the observation is not made
    of square images of one size.
    """
    if config.agent.get("encoder", "none") != "conv":
        return None
    try:
        num_patches, patch_size = observation.image_layout()
    except ValueError as e:
        raise ValueError(f"config.agent.encoder='conv' needs image observations: {e}") from e
    return PatchEncoderSpec(
        num_patches=num_patches,
        patch_size=patch_size,
        filters=tuple(config.agent.conv_filters),
        kernel_sizes=tuple(config.agent.conv_kernel_sizes),
        strides=tuple(config.agent.conv_strides),
        embedding_size=config.agent.conv_embedding_size,
        pairwise_differences=config.agent.get("conv_pairwise_differences", False),
        # Runs saved before the field existed have no layer norm.
        layer_norm=config.agent.get("conv_layer_norm", False),
    )
