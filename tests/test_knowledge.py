"""What a model knows, said plainly (the studio's model panel, `uniav predict`, the JSON output)."""

from __future__ import annotations

import dataclasses

from tests.helpers import tiny_config
from uniav.config import EncoderSpec, Provenance, TaskProvenance
from uniav.knowledge import ModelKnowledge


def config_with_provenance():
    prov = Provenance(
        tasks={"TAL": TaskProvenance("UniAV-Synth", real=False), "SED": TaskProvenance("real recordings", real=True)},
        note="no speech",
    )
    cfg = tiny_config(encoder=EncoderSpec("effnet", "yamnet", "minilm"), provenance=prov)
    sed = dataclasses.replace(cfg.task("SED"), labels=("dog *bark*", "horn"))
    return cfg.with_task(sed)


def test_tasks_say_what_they_were_trained_on_and_whether_it_was_real():
    k = ModelKnowledge.of(config_with_provenance())
    assert k.synthetic_tasks == ("TAL",)
    lines = k.lines()
    assert lines[0].startswith("TAL: trained on UniAV-Synth (synthetic training data only")
    assert "real-world training data" in lines[1] and "dog *bark*, horn" in lines[1]
    assert any(line.startswith("visual encoder effnet: EfficientNet-Lite0") for line in lines)
    assert any("ImageNet" in line and "not actions" in line for line in lines)
    assert lines[-1] == "no speech"


def test_unknown_provenance_is_said_so():
    k = ModelKnowledge.of(tiny_config())
    assert all(t.real is None for t in k.tasks)
    assert "training data not recorded with the model" in k.lines()[0]


def test_markdown_escapes_labels_and_json_lists_classes():
    k = ModelKnowledge.of(config_with_provenance())
    md = k.markdown()
    assert "dog \\*bark\\*" in md and "⚠️ **TAL**" in md and "✅ **SED**" in md
    d = k.to_dict()
    assert d["tasks"]["SED"] == {
        "trained_on": "real recordings",
        "real_world_training": True,
        "classes": ["dog *bark*", "horn"],
    }
    assert d["tasks"]["TAL"]["real_world_training"] is False and d["note"] == "no speech"
    assert set(d["encoders"]) == {"visual", "audio", "text"}
