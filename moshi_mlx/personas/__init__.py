"""Personas for PersonaPlex (NVIDIA's Moshi fine-tune): a voice prompt and a role prompt before each
conversation, run fast (batched prefill) and once per persona (its state kept on the model).

- protocol.py: the prompt's tokens, call by call and position by position (the reference's rules);
- voices.py: voice files (safetensors), voices from recordings, listing; nvidia.py: NVIDIA's
  shipped voices converted without unpickling code (torch_pickle.py);
- prompt.py: running a prompt on a generator, kept prompt states;
- stream.py: the StreamSetup used by `chat`, `run` and the app for model_type "personaplex";
- cli.py: `python -m moshi_mlx voices`.
"""
