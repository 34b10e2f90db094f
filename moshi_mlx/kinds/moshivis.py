"""MoshiVis (Kyutai): conversation about an image. Moshi 7B + a SigLIP image tower and gated
cross-attention (moshi_mlx/vis). Kyutai's release has no config.json: our folders carry one with
model_type "moshivis" (see moshi_mlx/vis/config.py). Its demo (`demo-vis`) has the release's
structure at a tiny size, with a 28x28 image tower."""

from .base import DemoSpec, ModelKind

DEMO_VISION = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
               "num_attention_heads": 2, "image_size": 28, "patch_size": 14}

KIND = ModelKind(
    "moshivis", "conversation about an image", ("chat", "run", "serve"), "talk", "demo-vis",
    demo_spec=DemoSpec(metadata={"model_type": "moshivis"}, extras="moshi_mlx.vis.demo:make_demo_files"),
    setup="moshi_mlx.vis.setup:VisSetup",
    lm_loader="moshi_mlx.vis.loading:load_vis_lm")
