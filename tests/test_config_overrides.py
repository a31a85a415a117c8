"""``--config.*`` overrides applied to configs loaded from a workdir."""

import pytest

from configs.harlow import get_config
from harlow.config.overrides import apply_overrides, split_overrides


def test_split_takes_both_spellings_out_of_argv():
    overrides, rest = split_overrides(
        ["prog", "--workdir=x", "--config.env.backend=dmlab", "--config.seed", "3", "--greedy"]
    )
    assert overrides == [("env.backend", "dmlab"), ("seed", "3")]
    assert rest == ["prog", "--workdir=x", "--greedy"]
    with pytest.raises(ValueError, match="needs a value"):
        split_overrides(["prog", "--config.seed"])


def test_values_are_parsed_by_the_type_they_replace():
    config = get_config()
    apply_overrides(
        config,
        [
            ("env.backend", "dmlab"),
            ("dataset", "datasets/my_faces"),
            ("seed", "4"),
            ("train.learning_rate", "1"),
            ("env.show_chosen", "false"),
            ("agent.conv_filters", "(8, 8)"),
        ],
    )
    assert config.env.backend == "dmlab" and config.dataset == "datasets/my_faces"
    assert config.seed == 4 and config.train.learning_rate == 1.0
    assert config.env.show_chosen is False and tuple(config.agent.conv_filters) == (8, 8)


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("env.colour", "red", "no field 'env.colour'"),
        ("nothing.seed", "1", "no field 'nothing.seed'"),
        ("env", "1", "no field 'env'"),
        ("seed", "three", "not a valid value"),
        ("seed", "1.5", "must be of type int"),
        ("env.show_chosen", "maybe", "true or false"),
    ],
)
def test_bad_overrides_name_the_field(key, raw, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(get_config(), [(key, raw)])
