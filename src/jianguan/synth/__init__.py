"""Deterministic synthetic data: a registry of market entities at county, city or province scale, and the hook
(AppConfig.synth_steps, fn(ctx: SynthContext)) through which every module adds its synthetic history."""
