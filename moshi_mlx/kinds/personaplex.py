"""PersonaPlex (NVIDIA): Moshi with a voice and role prompt. Its config.json holds metadata only
({"model_type": "personaplex", "version": "7b-v1"}): the architecture is Moshi 7B with dep_q 16."""

from .base import DemoSpec, ModelKind

KIND = ModelKind(
    "personaplex", "conversation with a voice and role prompt (persona)", ("chat", "run", "serve"),
    "talk", "demo-personaplex",
    demo_spec=DemoSpec(lm={"dep_q": 16, "context": 256}, metadata={"model_type": "personaplex"},
                       extras="moshi_mlx.personas.demo:make_demo_files"),
    setup="moshi_mlx.personas.stream:PersonaSetup",
    architecture="personaplex-7b")
